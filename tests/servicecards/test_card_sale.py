"""Selling a card at the till is a sale: money, points and the card with its uses and expiry."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from loyalty.models import PointsAccount, Sale
from loyalty.reconcile import ledger_mismatches
from servicecards.models import CardEntry, CardProduct, MemberCard
from tests.factories.servicecards import CardProductFactory, PeriodCardProductFactory
from tests.servicecards.conftest import rid


def test_selling_a_card_records_a_sale_and_the_card_with_its_bonus(sell_card, member, wash_card):
    sold = sell_card(member, wash_card)

    assert sold.sale.total_due == Decimal("680.00")
    assert sold.sale.lines.get().sku == "WASH10"
    card = MemberCard.objects.get(pk=sold.card.pk)
    assert card.member == member
    assert (card.uses_purchased, card.uses_bonus, card.uses_remaining) == (10, 2, 12)
    assert card.price_paid == Decimal("680.00")
    assert timezone.localtime(card.expires_at).date() > (timezone.localdate() + timedelta(days=360))
    assert sorted(CardEntry.objects.filter(card=card).values_list("kind", "uses")) == [
        ("bonus", Decimal("2.00")),
        ("purchase", Decimal("10.00")),
    ]
    assert ledger_mismatches() == []


def test_a_card_sale_earns_points_by_the_earning_rules(sell_card, member, wash_card):
    sell_card(member, wash_card)

    assert PointsAccount.objects.get(member=member).pending + PointsAccount.objects.get(member=member).available == 680


def test_the_same_request_again_answers_the_first_sale_and_card(sell_card, member, wash_card):
    request_id = rid()
    first = sell_card(member, wash_card, request_id=request_id)

    again = sell_card(member, wash_card, request_id=request_id)

    assert again.sale.pk == first.sale.pk and again.card.pk == first.card.pk
    assert getattr(again, "replayed", False)
    assert MemberCard.objects.count() == 1 and Sale.objects.count() == 1


def test_a_card_valid_from_first_use_has_no_expiry_until_used(sell_card, member, wash):
    product = CardProductFactory(code="FU10", valid_from=CardProduct.ValidFrom.FIRST_USE, services=[wash])

    card = sell_card(member, product).card

    assert card.expires_at is None and card.activated_at is None


def test_a_period_card_has_no_count_of_uses(sell_card, member, wash):
    card = sell_card(member, PeriodCardProductFactory(code="MONTH", services=[wash])).card

    assert card.uses_remaining is None
    assert card.cap_per_day == 1
    assert ledger_mismatches() == []


def test_a_card_no_longer_on_sale_is_refused(sell_card, member, wash_card):
    wash_card.is_active = False
    wash_card.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as refused:
        sell_card(member, wash_card)

    assert refused.value.error_dict["product"][0].code == "product_inactive"
    assert not Sale.objects.exists()


def test_a_card_is_sold_only_where_the_cashier_works(sell_card, member, wash_card, chain):
    with pytest.raises(PermissionDenied):
        sell_card(member, wash_card, store=chain.store_b)

    assert not MemberCard.objects.exists()
