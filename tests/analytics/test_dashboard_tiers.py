"""The tiers dashboard: members per tier now, and the period's upgrades and downgrades by reason."""

from decimal import Decimal

import pytest

from tests.analytics.loyalty_history import (
    assert_marketer_exports_and_others_may_not,
    assert_page_queries,
    board,
    figures,
    refund,
    rows,
    sell,
)
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, TierFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db
SLUG = "tiers"


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 10, 10))


@pytest.fixture
def history(chain, clock):
    """普卡 from ¥0, 金卡 from ¥1,000 of spend. 3/10 王芳 (home A) buys ¥100: none → 普卡; 李娜 (home B)
    buys ¥1,200: none → 金卡. 3/11 王芳 buys ¥1,000: 普卡 → 金卡. 3/12 that sale is refunded: 金卡 → 普卡.
    张伟 (home A) has bought nothing."""
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00"))
    TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00"))
    wang = MemberFactory(name="王芳", home_store=chain.store_a, store=chain.store_a)
    li = MemberFactory(name="李娜", home_store=chain.store_b, store=chain.store_b)
    zhang = MemberFactory(name="张伟", home_store=chain.store_a, store=chain.store_a)
    sell(chain, wang, 100)
    sell(chain, li, 1200, store=chain.store_b)
    clock.set(local(2026, 3, 11, 10))
    big = sell(chain, wang, 1000)
    clock.set(local(2026, 3, 12, 10))
    refund(chain, big)
    return {"wang": wang, "li": li, "zhang": zhang}


def test_members_per_tier_and_the_periods_movement(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-12")

    assert rows(result, "distribution") == [
        ["普卡", 1, Decimal("33.33")],
        ["金卡", 1, Decimal("33.33")],
        ["(no tier)", 1, Decimal("33.33")],
    ]
    #   from, to, direction, changes, upgrade, evaluation, refund, manual, import
    assert rows(result, "movement") == [
        ["(no tier)", "普卡", "Upgrade", 1, 1, 0, 0, 0, 0],
        ["(no tier)", "金卡", "Upgrade", 1, 1, 0, 0, 0, 0],
        ["普卡", "金卡", "Upgrade", 1, 1, 0, 0, 0, 0],
        ["金卡", "普卡", "Downgrade", 1, 0, 0, 1, 0, 0],
    ]
    assert rows(result, "by_period") == [["2026-03-10", 2, 0, 2], ["2026-03-11", 1, 0, 1], ["2026-03-12", 0, 1, -1]]
    shown = figures(result)
    assert (shown["Members"], shown["Members with a tier"], shown["Members without a tier"]) == (3, 2, 1)
    assert (shown["Upgrades"], shown["Downgrades"]) == (3, 1)
    bars = result.charts[0]
    assert (bars.kind, bars.labels, bars.series[0].values) == ("bar", ["普卡", "金卡", "(no tier)"], [1, 1, 1])


def test_a_store_sees_the_members_whose_home_store_it_is(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-12", store=chain.store_b.pk)
    assert [row[:2] for row in rows(result, "distribution")] == [["普卡", 0], ["金卡", 1], ["(no tier)", 0]]
    assert rows(result, "movement") == [["(no tier)", "金卡", "Upgrade", 1, 1, 0, 0, 0, 0]]


def test_the_distribution_is_todays_whatever_the_period(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-02-01", "2026-02-28")
    assert [row[1] for row in rows(result, "distribution")] == [1, 1, 1]
    assert rows(result, "movement") == []
    assert result.notes == ["No tier changes in this period."]


def test_an_empty_chain_shows_nothing_without_errors(client, chain, clock):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")
    assert rows(result, "distribution") == [["(no tier)", 0, None]]
    assert result.notes == ["No tiers are set up.", "No tier changes in this period."]
    assert figures(result)["Members"] == 0


def test_the_query_count_does_not_grow_with_the_history(client, chain, history, clock, django_assert_num_queries):
    # The tiers, the members by tier, the changes.
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 3)
    TierFactory(code="DIAMOND", name="钻石卡", rank=2, threshold=Decimal("5000.00"))
    sell(chain, history["zhang"], 6000)
    sell(chain, MemberFactory(home_store=chain.store_b), 50, store=chain.store_b)
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 3)


def test_marketers_read_and_export_it_and_store_staff_may_not(client, chain, history):
    assert_marketer_exports_and_others_may_not(client, chain, SLUG, "movement", "2026-03-10", "2026-03-12")
