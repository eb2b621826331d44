"""Recording a use: the service record, the balance by conditional update, caps, confirmation, reversal."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from loyalty.reconcile import ledger_mismatches
from servicecards.models import CardEntry, CardProduct, CardSettings, MemberCard
from servicecards.services import confirmation
from servicecards.services.cards import card_use_reverse
from tests.factories.servicecards import (
    CardProductFactory,
    HoursCardProductFactory,
    PeriodCardProductFactory,
    ServiceFactory,
    ServiceStaffFactory,
)
from tests.servicecards.conftest import rid


def code_of(error: ValidationError) -> str:
    return next(iter(error.error_dict.values()))[0].code


@pytest.fixture
def card(sell_card, member, wash_card):
    return sell_card(member, wash_card).card


def test_a_use_takes_one_and_is_the_members_service_record(card, wash, use_card, chain):
    therapist = ServiceStaffFactory(services=[wash])
    therapist.user.staff_profile.stores.add(chain.store_a)

    entry = use_card(card, wash, performed_by=therapist.user, note="头皮偏干，建议每周一次")

    card.refresh_from_db()
    assert card.uses_remaining == 11 and card.uses_taken == 1
    assert (entry.kind, entry.uses, entry.service, entry.performed_by) == ("use", Decimal("-1"), wash, therapist.user)
    assert CardEntry.objects.get(pk=entry.pk).note == "头皮偏干，建议每周一次"
    assert ledger_mismatches() == []


def test_the_last_use_cannot_be_taken_twice(sell_card, member, wash, use_card):
    card = sell_card(member, CardProductFactory(code="ONE", uses=Decimal(1), services=[wash])).card
    use_card(card, wash)

    with pytest.raises(ValidationError) as refused:
        use_card(card, wash)

    assert code_of(refused.value) == "card_unusable"
    card.refresh_from_db()
    assert card.uses_remaining == 0


def test_a_lesson_hours_card_takes_fractional_hours(sell_card, member, use_card):
    lesson = ServiceFactory(code="PT", name="私教课", duration_minutes=90)
    card = sell_card(member, HoursCardProductFactory(code="PT20", services=[lesson])).card

    use_card(card, lesson, uses=Decimal("1.5"))

    card.refresh_from_db()
    assert card.uses_remaining == Decimal("18.5")


def test_a_count_card_refuses_half_a_use(card, wash, use_card):
    with pytest.raises(ValidationError) as refused:
        use_card(card, wash, uses=Decimal("0.5"))

    assert code_of(refused.value) == "invalid_uses"


def test_a_service_the_card_does_not_cover_is_refused(card, use_card):
    other = ServiceFactory(code="FACE", name="面部护理")

    with pytest.raises(ValidationError) as refused:
        use_card(card, other)

    assert code_of(refused.value) == "card_unusable"
    assert "面部护理" in refused.value.messages[0]


def test_a_card_limited_to_store_a_cannot_be_used_at_store_b(sell_card, member, wash, use_card, chain):
    product = CardProductFactory(code="AONLY", services=[wash])
    product.stores.set([chain.store_a])
    card = sell_card(member, product).card

    with pytest.raises(ValidationError) as refused:
        use_card(card, wash, store=chain.store_b, actor=chain.cashier_b)

    assert code_of(refused.value) == "card_unusable"


def test_a_cashier_of_another_store_cannot_record_a_use_here(card, wash, use_card, chain):
    with pytest.raises(PermissionDenied):
        use_card(card, wash, store=chain.store_a, actor=chain.cashier_b)


def test_an_expired_card_is_refused(card, wash, use_card):
    MemberCard.objects.filter(pk=card.pk).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))

    with translation.override("en"), pytest.raises(ValidationError) as refused:
        use_card(card, wash)

    assert "expired" in refused.value.messages[0]


def test_the_first_use_starts_a_card_valid_from_first_use(sell_card, member, wash, use_card):
    card = sell_card(
        member, CardProductFactory(code="FU", valid_from=CardProduct.ValidFrom.FIRST_USE, services=[wash])
    ).card

    use_card(card, wash)

    card.refresh_from_db()
    assert card.activated_at is not None and card.expires_at > card.activated_at


def test_a_period_card_keeps_its_cap_per_day(sell_card, member, wash, use_card):
    card = sell_card(member, PeriodCardProductFactory(code="GYM", services=[wash])).card
    use_card(card, wash)

    with pytest.raises(ValidationError) as refused:
        use_card(card, wash)

    assert code_of(refused.value) == "cap_reached"
    card.refresh_from_db()
    assert card.uses_taken == 1 and card.uses_remaining is None


def test_the_same_request_id_records_one_use(card, wash, use_card):
    request_id = rid()
    first = use_card(card, wash, request_id=request_id)

    again = use_card(card, wash, request_id=request_id)

    assert again.pk == first.pk and getattr(again, "replayed", False)
    card.refresh_from_db()
    assert card.uses_remaining == 11


def test_a_request_id_reused_for_another_use_is_refused(card, wash, use_card):
    request_id = rid()
    use_card(card, wash, request_id=request_id)

    with pytest.raises(ValidationError) as refused:
        use_card(card, wash, request_id=request_id, uses=Decimal(2))

    assert code_of(refused.value) == "request_id_reused"


def test_a_signature_is_asked_where_the_chain_requires_it(card, wash, use_card):
    CardSettings.objects.update_or_create(singleton=True, defaults={"use_confirmation": "signature"})

    with pytest.raises(ValidationError) as refused:
        use_card(card, wash)
    entry = use_card(card, wash, confirmation="signature", signature="data:image/png;base64,iVBORw0KGgo=")

    assert code_of(refused.value) == "confirmation_required"
    assert entry.confirmation == "signature"


def test_a_code_sent_to_the_member_confirms_the_use_once(card, wash, use_card, chain, monkeypatch):
    CardSettings.objects.update_or_create(singleton=True, defaults={"use_confirmation": "code"})
    sent = []
    # Only this sender (the outbox's own is tested in test_use_code_sms.py).
    monkeypatch.setattr(confirmation, "_senders", [])
    confirmation.register_code_sender(lambda **kwargs: sent.append(kwargs["code"]))
    try:
        confirmation.use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)
        with pytest.raises(ValidationError) as wrong:
            use_card(card, wash, confirmation="code", confirmation_code="000000" if sent[0] != "000000" else "111111")
        entry = use_card(card, wash, confirmation="code", confirmation_code=sent[0])
        with pytest.raises(ValidationError) as reused:
            use_card(card, wash, confirmation="code", confirmation_code=sent[0])
    finally:
        cache.clear()

    assert code_of(wrong.value) == "code_invalid"
    assert entry.confirmation == "code"
    assert code_of(reused.value) == "code_invalid"


def test_a_manager_reverses_a_use_the_same_day(card, wash, use_card, chain):
    use = use_card(card, wash)

    reversal = card_use_reverse(request_id=rid(), entry=use, actor=chain.manager_a, reason="记错了")

    card.refresh_from_db()
    assert card.uses_remaining == 12 and card.uses_taken == 0
    assert reversal.reverses == use and reversal.uses == 1
    assert ledger_mismatches() == []


def test_a_use_is_reversed_only_once(card, wash, use_card, chain):
    use = use_card(card, wash)
    card_use_reverse(request_id=rid(), entry=use, actor=chain.manager_a, reason="记错了")

    with pytest.raises(ValidationError) as refused:
        card_use_reverse(request_id=rid(), entry=use, actor=chain.manager_a, reason="again")

    assert code_of(refused.value) == "already_reversed"


def test_a_cashier_cannot_reverse_a_use(card, wash, use_card, chain):
    use = use_card(card, wash)

    with pytest.raises(PermissionDenied):
        card_use_reverse(request_id=rid(), entry=use, actor=chain.cashier_a, reason="记错了")


def test_yesterdays_use_cannot_be_reversed(card, wash, use_card, chain):
    use = use_card(card, wash)
    CardEntry.objects.filter(pk=use.pk).update(created_at=timezone.now() - timezone.timedelta(days=1))
    use.refresh_from_db()

    with pytest.raises(ValidationError) as refused:
        card_use_reverse(request_id=rid(), entry=use, actor=chain.manager_a, reason="记错了")

    assert code_of(refused.value) == "reversal_too_late"
