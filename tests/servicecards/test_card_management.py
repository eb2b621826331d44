"""Freezing, extending, transferring and refunding a card: a manager's work, audited."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from loyalty.models import Refund, Sale
from loyalty.reconcile import ledger_mismatches
from loyalty.services import sale_refund
from servicecards.models import CardSettings, MemberCard
from servicecards.services.cards import (
    card_extend,
    card_freeze,
    card_refund,
    card_refund_quote,
    card_transfer,
    card_unfreeze,
)
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.servicecards import CardProductFactory
from tests.servicecards.conftest import rid


def code_of(error: ValidationError) -> str:
    return next(iter(error.error_dict.values()))[0].code if hasattr(error, "error_dict") else error.code


@pytest.fixture
def card(sell_card, member, wash_card):
    return sell_card(member, wash_card).card


def test_a_frozen_card_cannot_be_used_and_its_expiry_moves_by_the_days_frozen(card, wash, use_card, chain):
    expires = card.expires_at
    card_freeze(card=card, actor=chain.manager_a, store=chain.store_a, reason="出差两周")
    with pytest.raises(ValidationError):
        use_card(card, wash)
    MemberCard.objects.filter(pk=card.pk).update(frozen_at=timezone.now() - timedelta(days=14))

    card = card_unfreeze(card=card, actor=chain.manager_a, store=chain.store_a)

    assert card.status == "active" and card.frozen_days == 14
    assert card.expires_at == expires + timedelta(days=14)
    assert AuditEntry.objects.filter(action__in=["service_card.frozen", "service_card.unfrozen"]).count() == 2


def test_a_card_is_frozen_at_most_as_often_as_the_chain_allows(card, chain):
    CardSettings.objects.update_or_create(singleton=True, defaults={"freeze_max_times": 1})
    card_freeze(card=card, actor=chain.manager_a, store=chain.store_a, reason="受伤")
    card_unfreeze(card=card, actor=chain.manager_a, store=chain.store_a)

    with pytest.raises(ValidationError) as refused:
        card_freeze(card=card, actor=chain.manager_a, store=chain.store_a, reason="again")

    assert code_of(refused.value) == "freeze_limit"


def test_a_cashier_cannot_freeze_a_card(card, chain):
    with pytest.raises(PermissionDenied):
        card_freeze(card=card, actor=chain.cashier_a, store=chain.store_a, reason="x")


def test_a_manager_extends_a_card_with_a_reason(card, chain):
    until = timezone.localdate() + timedelta(days=800)

    card = card_extend(card=card, actor=chain.manager_a, store=chain.store_a, until=until, reason="门店装修")

    assert card.valid_until == until
    assert AuditEntry.objects.get(action="service_card.extended").reason == "门店装修"


def test_a_transferable_card_moves_to_another_member_with_its_uses(sell_card, member, wash, use_card, chain):
    card = sell_card(member, CardProductFactory(code="GIFT", transferable=True, services=[wash])).card
    use_card(card, wash)
    friend = MemberFactory(phone="13900139000", name="李娜")

    card = card_transfer(card=card, actor=chain.manager_a, store=chain.store_a, to_member=friend, reason="转给朋友")

    assert card.member == friend and card.uses_remaining == 9
    use_card(card, wash)
    assert ledger_mismatches() == []


def test_a_card_that_is_not_transferable_stays_with_its_member(card, chain):
    with pytest.raises(ValidationError) as refused:
        card_transfer(
            card=card,
            actor=chain.manager_a,
            store=chain.store_a,
            to_member=MemberFactory(phone="13900139001"),
            reason="x",
        )

    assert code_of(refused.value) == "not_transferable"


def test_the_refund_pays_the_unused_purchased_uses_less_the_fee(card, wash, use_card):
    for _ in range(4):
        use_card(card, wash)
    card.refresh_from_db()

    quote = card_refund_quote(card)

    # 12 uses (10 + 2 bonus), 4 taken: the bonus is given up first, so 8 of the 10 paid uses are unused.
    assert quote.refundable == Decimal("544.00")
    assert quote.fee == Decimal("54.40")
    assert quote.amount == Decimal("489.60")


def test_refunding_a_card_returns_money_through_the_refund_machinery_and_closes_the_card(card, wash, use_card, chain):
    use_card(card, wash)

    refund = card_refund(request_id=rid(), card=card, actor=chain.manager_a, store=chain.store_a, reason="搬家")

    card.refresh_from_db()
    assert refund.amount == Decimal("612.00")  # 680 × 10/10 (one bonus use taken) less 10 %
    assert card.status == "refunded" and card.uses_remaining == 0
    with pytest.raises(ValidationError):
        use_card(card, wash)
    assert AuditEntry.objects.filter(action="service_card.refunded").count() == 1
    assert ledger_mismatches() == []


def test_a_manager_refunds_a_card_bought_months_ago_past_the_goods_refund_window(card, chain):
    Sale.objects.filter(pk=card.sale_id).update(created_at=timezone.now() - timedelta(days=120))

    refund = card_refund(request_id=rid(), card=card, actor=chain.manager_a, store=chain.store_a, reason="搬家")

    assert refund.amount == Decimal("612.00")


def test_a_card_is_refunded_at_the_store_that_sold_it(card, chain):
    with pytest.raises(ValidationError) as refused:
        card_refund(request_id=rid(), card=card, actor=chain.hq_admin, store=chain.store_b, reason="搬家")

    assert code_of(refused.value) == "store_mismatch"


def test_the_same_card_refund_sent_again_answers_the_first(card, chain):
    request_id = rid()
    first = card_refund(request_id=request_id, card=card, actor=chain.manager_a, store=chain.store_a, reason="搬家")

    again = card_refund(request_id=request_id, card=card, actor=chain.manager_a, store=chain.store_a, reason="搬家")

    assert again.pk == first.pk and Refund.objects.count() == 1


def test_a_cashier_needs_a_managers_approval_to_refund_a_card(card, chain):
    with pytest.raises(ValidationError) as refused:
        card_refund(request_id=rid(), card=card, actor=chain.cashier_a, store=chain.store_a, reason="搬家")

    assert code_of(refused.value) == "approval_required"
    card.refresh_from_db()
    assert card.status == "active"


def test_a_card_sale_cannot_be_refunded_as_a_plain_sale(card, chain):
    with pytest.raises(ValidationError) as refused:
        sale_refund(request_id=rid(), sale=card.sale, actor=chain.manager_a, reason="x", amount=Decimal("100"))

    assert code_of(refused.value) == "refund_elsewhere"
    assert not Refund.objects.exists()


def test_a_chain_that_refunds_no_cards_refuses(card, chain):
    CardSettings.objects.update_or_create(singleton=True, defaults={"refunds_allowed": False})

    with pytest.raises(ValidationError) as refused:
        card_refund(request_id=rid(), card=card, actor=chain.manager_a, store=chain.store_a, reason="搬家")

    assert code_of(refused.value) == "refunds_not_allowed"
