"""What members redeem points for: checkout, mall gifts and coupons exchanged for points."""

from decimal import Decimal

import pytest

from campaigns.services.mall import mall_order_cancel, mall_order_place
from tests.analytics.loyalty_history import (
    assert_marketer_exports_and_others_may_not,
    assert_page_queries,
    board,
    figures,
    give_points,
    rid,
    rows,
    sell,
)
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponMallItemFactory, MallItemFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db
SLUG = "redemptions"
D = Decimal


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 10, 10))


def order(chain, member, item, store):
    actor = chain.hq_admin if store is None else chain.cashier_a if store == chain.store_a else chain.cashier_b
    return mall_order_place(request_id=rid(), member=member, item=item, store=store, actor=actor)


@pytest.fixture
def history(chain, clock):
    """100 points pay ¥1. 3/10 王芳 pays ¥20 of a ¥100 sale at A with 2,000 points. 3/11 王芳 orders a
    保温杯 (1,000 points, costs the chain ¥25) to pick up at A; 李娜 orders one at B and a 10元券
    (500 points) online. 3/12 李娜's 保温杯 is cancelled, and she pays ¥10 of a ¥200 sale at B with
    1,000 points."""
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=D("1.00"))
    wang = MemberFactory(name="王芳", home_store=chain.store_a, store=chain.store_a)
    li = MemberFactory(name="李娜", home_store=chain.store_b, store=chain.store_b)
    give_points(chain, wang, 5000)
    give_points(chain, li, 3000)
    cup = MallItemFactory(name="保温杯", points_price=1000, cost=D("25.00"))
    coupon = CouponMallItemFactory(name="10元券", points_price=500, cost=D("8.00"))
    sell(chain, wang, 100, points=2000)
    clock.set(local(2026, 3, 11, 10))
    order(chain, wang, cup, chain.store_a)
    gift_b = order(chain, li, cup, chain.store_b)
    order(chain, li, coupon, None)
    clock.set(local(2026, 3, 12, 10))
    mall_order_cancel(order=gift_b, actor=chain.hq_admin, reason="不要了")
    sell(chain, li, 200, store=chain.store_b, points=1000)
    return {"wang": wang, "li": li, "cup": cup, "coupon": coupon}


def test_points_by_what_they_were_redeemed_for(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-12")

    #     item, kind, sales or orders, points, share, value, cost, cancelled
    assert rows(result, "by_item") == [
        ["At checkout", "Paid part of a sale", 2, 3000, D("66.67"), D("30.00"), None, 0],
        ["10元券", "Coupon", 1, 500, D("11.11"), D("5.00"), D("8.00"), 0],
        ["保温杯", "Gift, picked up in store", 1, 1000, D("22.22"), D("10.00"), D("25.00"), 1],
    ]
    assert result.table("by_item").total == ["Total", "", 4, 4500, D("100.00"), D("45.00"), D("33.00"), 1]
    assert rows(result, "by_period") == [
        ["2026-03-10", 2000, 0, 2000, 1, 0],
        ["2026-03-11", 0, 1500, 1500, 0, 2],
        ["2026-03-12", 1000, 0, 1000, 1, 0],
    ]
    shown = figures(result)
    assert (shown["Points redeemed"], shown["At checkout"], shown["In the points mall"]) == (4500, 3000, 1500)
    assert (shown["Paid with points"], shown["Mall points' value"]) == (D("30.00"), D("15.00"))
    bars = result.charts[0]
    assert (bars.kind, bars.labels, bars.series[0].values) == (
        "bar",
        ["At checkout", "保温杯", "10元券"],
        [3000, 1000, 500],
    )


def test_a_store_sees_its_sales_and_the_gifts_picked_up_there(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-12", store=chain.store_b.pk)
    assert rows(result, "by_item") == [
        ["At checkout", "Paid part of a sale", 1, 1000, D("100.00"), D("10.00"), None, 0],
        ["保温杯", "Gift, picked up in store", 0, 0, D("0.00"), D("0.00"), D("0.00"), 1],
    ]


def test_an_empty_chain_shows_nothing_without_errors(client, chain, clock):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")
    assert rows(result, "by_item") == []
    assert result.charts == []
    assert result.notes == ["No points were redeemed in this period."]
    assert figures(result)["Points redeemed"] == 0


def test_the_query_count_does_not_grow_with_the_history(client, chain, history, clock, django_assert_num_queries):
    # The sales with points, the mall by item, the mall by bucket, the settings.
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 4)
    give_points(chain, history["wang"], 5000)
    order(chain, history["wang"], MallItemFactory(name="雨伞", points_price=800), chain.store_a)
    order(chain, history["wang"], history["coupon"], None)
    sell(chain, history["wang"], 300, points=5000)
    assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 4)


def test_marketers_read_and_export_it_and_store_staff_may_not(client, chain, history):
    assert_marketer_exports_and_others_may_not(client, chain, SLUG, "by_item", "2026-03-10", "2026-03-12")
