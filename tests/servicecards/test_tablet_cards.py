"""The tablet's card pages: the member's cards, selling a card, recording a use (with a code or a signature),
today's uses and their reversal, and the managers' freeze, extend, transfer and refund."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from servicecards.models import CardEntry, CardSettings, MemberCard
from servicecards.services import confirmation
from tests.factories import MemberFactory
from tests.factories.servicecards import PeriodCardProductFactory, ServiceStaffFactory

SIGNATURE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def card(sell_card, member, wash_card):
    return sell_card(member, wash_card).card


@pytest.fixture
def therapist(chain, wash):
    staff = ServiceStaffFactory(services=[wash])
    staff.user.first_name = "丽"
    staff.user.last_name = "张"
    staff.user.save()
    staff.user.staff_profile.stores.add(chain.store_a)
    return staff.user


def test_the_members_page_lists_their_cards_with_a_use_button_and_sell_a_card(
    at_till, chain, member, card, django_assert_num_queries
):
    client = at_till(chain.cashier_a, chain.store_a)
    client.get(reverse("tablet:member", args=[member.code]))

    # The cards come with the member's summary the page reads anyway: three queries for them, whatever their number.
    with django_assert_num_queries(18):
        page = client.get(reverse("tablet:member", args=[member.code])).content.decode()

    section = page.split('id="member-cards"')[1]
    assert "10次洗护卡" in section and "12</b> / 12" in section
    assert reverse("tablet:card-use", args=[card.code]) in section
    assert reverse("tablet:card-sell", args=[member.code]) in section


def test_a_period_card_reads_unlimited_at_most_once_a_day(at_till, chain, member, sell_card, wash):
    sell_card(member, PeriodCardProductFactory(code="GYM1", services=[wash]))

    page = at_till(chain.cashier_a, chain.store_a).get(reverse("tablet:member", args=[member.code])).content.decode()

    assert "Unlimited" in page and "≤1/day" in page


def test_selling_a_card_shows_what_is_due_then_sells_it_once_on_a_double_tap(at_till, chain, member, wash_card, policy):
    client = at_till(chain.cashier_a, chain.store_a)
    url = reverse("tablet:card-sell", args=[member.code])
    form = {"request_id": rid(), "product": wash_card.pk, "tender": "cash"}

    quote = client.post(url, form).content.decode()
    assert "¥680.00" in quote.split('id="card-quote"')[1] and 'name="confirm"' in quote

    first = client.post(url, {**form, "confirm": "1"})
    again = client.post(url, {**form, "confirm": "1"})

    card = MemberCard.objects.get(member=member)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == reverse("tablet:card", args=[card.code])
    assert card.uses_remaining == Decimal(12) and card.sale.total_due == Decimal("680.00")


def test_the_sale_of_a_card_says_why_it_is_refused(at_till, chain, member, wash_card, policy):
    client = at_till(chain.cashier_a, chain.store_a)
    form = {"request_id": rid(), "product": wash_card.pk, "tender": "cash", "stored_value": "100.00", "confirm": "1"}

    page = client.post(reverse("tablet:card-sell", args=[member.code]), form).content.decode()

    assert 'class="msg error"' in page or "errorlist" in page
    assert not MemberCard.objects.exists()


def test_a_use_records_the_service_the_staff_and_the_note_once_on_a_double_tap(at_till, chain, card, wash, therapist):
    client = at_till(chain.cashier_a, chain.store_a)
    url = reverse("tablet:card-use", args=[card.code])
    page = client.get(url).content.decode()
    assert "张丽" in page or "丽" in page

    form = {"request_id": rid(), "service": wash.pk, "performed_by": therapist.pk, "uses": "1", "note": "头皮偏干"}
    first = client.post(url, form)
    again = client.post(url, form)

    entry = CardEntry.objects.get(kind="use")
    assert first["Location"] == again["Location"] == reverse("tablet:card-use-done", args=[entry.pk])
    assert (entry.performed_by, entry.note) == (therapist, "头皮偏干")
    done = client.get(first["Location"]).content.decode()
    assert "<b>11</b> / 12" in done


def test_a_use_asks_the_members_signature_when_the_chain_does(at_till, chain, card, wash):
    CardSettings.objects.update_or_create(singleton=True, defaults={"use_confirmation": "signature"})
    client = at_till(chain.cashier_a, chain.store_a)
    url = reverse("tablet:card-use", args=[card.code])
    assert "data-signature-pad" in client.get(url).content.decode()

    unsigned = client.post(url, {"request_id": rid(), "service": wash.pk, "uses": "1", "confirmation": "signature"})
    assert unsigned.status_code == 200 and "signature is missing" in unsigned.content.decode()

    form = {"request_id": rid(), "service": wash.pk, "uses": "1", "confirmation": "signature", "signature": SIGNATURE}
    assert client.post(url, form).status_code == 302
    assert CardEntry.objects.get(kind="use").confirmation == "signature"


def test_send_code_says_clearly_when_no_channel_can_send_it(at_till, chain, card, monkeypatch):
    monkeypatch.setattr(confirmation, "_senders", [])
    client = at_till(chain.cashier_a, chain.store_a)

    answer = client.post(reverse("tablet:card-use-code", args=[card.code]), HTTP_HX_REQUEST="true")

    assert "no message channel is set up" in answer.content.decode()


def test_a_code_sent_to_the_member_confirms_the_use(at_till, chain, card, wash, monkeypatch):
    CardSettings.objects.update_or_create(singleton=True, defaults={"use_confirmation": "code"})
    sent = []
    monkeypatch.setattr(confirmation, "_senders", [lambda **kw: sent.append(kw["code"])])
    client = at_till(chain.cashier_a, chain.store_a)
    client.post(reverse("tablet:card-use-code", args=[card.code]), HTTP_HX_REQUEST="true")

    form = {"request_id": rid(), "service": wash.pk, "uses": "1", "confirmation": "code", "confirmation_code": sent[0]}
    answer = client.post(reverse("tablet:card-use", args=[card.code]), form)

    assert answer.status_code == 302 and CardEntry.objects.get(kind="use").confirmation == "code"


def test_a_manager_reverses_todays_use_with_a_reason(at_till, chain, card, wash, use_card):
    entry = use_card(card, wash)
    client = at_till(chain.manager_a, chain.store_a)
    page = client.get(reverse("tablet:card-uses-today")).content.decode()
    assert reverse("tablet:card-use-reverse", args=[entry.pk]) in page

    client.post(reverse("tablet:card-use-reverse", args=[entry.pk]), {"request_id": rid(), "reason": "记错了"})

    card.refresh_from_db()
    assert card.uses_remaining == 12 and CardEntry.objects.filter(kind="reversal").count() == 1


def test_a_cashier_has_no_manager_pages_and_cannot_reverse(at_till, chain, card, wash, use_card):
    entry = use_card(card, wash)
    client = at_till(chain.cashier_a, chain.store_a)

    assert client.get(reverse("tablet:card-uses-today")).status_code == 403
    assert client.post(reverse("tablet:card-use-reverse", args=[entry.pk]), {"reason": "x"}).status_code == 403
    assert (
        reverse("tablet:card-freeze", args=[card.code])
        not in client.get(reverse("tablet:card", args=[card.code])).content.decode()
    )
    assert not CardEntry.objects.filter(kind="reversal").exists()


def test_a_use_of_another_store_is_not_shown_to_a_cashier_of_store_b(at_till, chain, card, wash, use_card):
    entry = use_card(card, wash)

    answer = at_till(chain.cashier_b, chain.store_b).get(reverse("tablet:card-use-done", args=[entry.pk]))

    assert answer.status_code == 404


def test_a_manager_freezes_and_unfreezes_a_card(at_till, chain, card):
    client = at_till(chain.manager_a, chain.store_a)

    client.post(reverse("tablet:card-freeze", args=[card.code]), {"reason": "出差一个月"})
    card.refresh_from_db()
    assert card.status == "frozen"
    client.post(reverse("tablet:card-unfreeze", args=[card.code]), {})
    card.refresh_from_db()
    assert card.status == "active"


def test_a_manager_transfers_a_card_to_a_member_typed_by_phone_in_the_body(at_till, chain, sell_card, wash):
    from tests.factories.servicecards import CardProductFactory

    card = sell_card(MemberFactory(), CardProductFactory(code="GIFT", transferable=True, services=[wash])).card
    other = MemberFactory(phone="13900139000", name="李娜")
    client = at_till(chain.manager_a, chain.store_a)

    answer = client.post(
        reverse("tablet:card-transfer", args=[card.code]), {"to_member": "13900139000", "reason": "转给家人"}
    )

    card.refresh_from_db()
    assert answer.status_code == 302 and card.member == other


def test_a_cashier_refunds_a_card_only_with_a_managers_approval(at_till, chain, card):
    client = at_till(chain.cashier_a, chain.store_a)
    url = reverse("tablet:card-refund", args=[card.code])
    page = client.get(url).content.decode()
    assert "¥612.00" in page  # ¥680 for 10 uses, 10 % fee

    refused = client.post(url, {"request_id": rid(), "reason": "搬家"})
    card.refresh_from_db()
    assert refused.status_code == 200 and card.status == "active"

    approved = {
        "request_id": rid(),
        "reason": "搬家",
        "approver_username": "manager_a",
        "approver_password": "correct-horse-battery",
    }
    assert client.post(url, approved).status_code == 302
    card.refresh_from_db()
    assert card.status == "refunded"
