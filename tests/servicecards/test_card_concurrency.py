"""Two tablets at once on one card (PostgreSQL only): the last use is taken once."""

from decimal import Decimal

import pytest

from servicecards.models import CardEntry
from servicecards.services.cards import card_use
from tests.factories.servicecards import CardProductFactory
from tests.loyalty.test_concurrency import assert_reconciles, outcome, race
from tests.servicecards.conftest import rid

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_tablets_cannot_take_the_last_use_twice(sell_card, member, wash, chain):
    card = sell_card(member, CardProductFactory(code="LAST1", uses=Decimal(1), services=[wash])).card
    request_ids = [rid(), rid()]

    results = race(
        2,
        lambda i: card_use(
            request_id=request_ids[i], card=card, store=chain.store_a, actor=chain.cashier_a, service=wash
        ),
    )

    assert sorted(outcome(r) for r in results) == ["card_unusable", "ok"]
    card.refresh_from_db()
    assert card.uses_remaining == 0 and card.uses_taken == 1
    assert CardEntry.objects.filter(card=card, kind="use").count() == 1
    assert_reconciles()


def test_eight_tablets_on_a_five_use_card_take_exactly_five(sell_card, member, wash, chain):
    card = sell_card(member, CardProductFactory(code="FIVE", uses=Decimal(5), services=[wash])).card
    request_ids = [rid() for _ in range(8)]

    results = race(
        8,
        lambda i: card_use(
            request_id=request_ids[i], card=card, store=chain.store_a, actor=chain.cashier_a, service=wash
        ),
    )

    assert [outcome(r) for r in results].count("ok") == 5
    card.refresh_from_db()
    assert card.uses_remaining == 0
    assert_reconciles()


def test_the_same_use_sent_by_two_tablets_at_once_is_recorded_once(sell_card, member, wash_card, wash, chain):
    card = sell_card(member, wash_card).card
    request_id = rid()

    results = race(
        2,
        lambda i: card_use(request_id=request_id, card=card, store=chain.store_a, actor=chain.cashier_a, service=wash),
    )

    assert [outcome(r) for r in results] == ["ok", "ok"]
    card.refresh_from_db()
    assert card.uses_remaining == 11
    assert_reconciles()
