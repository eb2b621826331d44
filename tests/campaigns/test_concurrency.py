"""Races on coupons and the points mall, each caller on its own thread and connection (PostgreSQL only).

Coupons are claimed by a conditional UPDATE, quantities and stock by conditional UPDATEs with their row
counts checked, and per-member limits are counted under the member's points-account lock, so none of
them is exceeded however many tills and jobs run at once.
"""

from collections import Counter
from decimal import Decimal

import pytest

from campaigns.models import Coupon, CouponTemplate, MallItem, MallOrder
from campaigns.services.coupons import coupon_issue, coupons_issue_bulk
from campaigns.services.mall import mall_order_cancel, mall_order_hand_over, mall_order_place
from loyalty.models import PointsAccount, Sale
from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout
from members.models import Member
from tests.campaigns.conftest import rid
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory, CouponTemplateFactory, MallItemFactory
from tests.loyalty.test_concurrency import assert_reconciles, outcome, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def give(chain, member, points: int) -> None:
    points_adjust(request_id=rid(), member=member, points=points, reason="开户赠送", actor=chain.hq_admin)


def test_a_coupon_raced_by_twenty_checkouts_is_used_once(chain, member, base_rule):
    coupon = CouponFactory(member=member)  # 满200减50

    def checkout(i: int):
        return sale_checkout(
            request_id=rid(),
            store=chain.store_a,
            cashier=chain.cashier_a,
            member=member,
            lines=[LineInput("饮品", Decimal("1"), Decimal("250.00"))],
            tenders=[TenderInput("cash", Decimal("200.00"))],
            coupon_code=coupon.code,
        )

    results = race(20, checkout)

    assert Counter(map(outcome, results)) == {"ok": 1, "coupon_used": 19}
    [sale] = [r for r in results if isinstance(r, Sale)]
    coupon.refresh_from_db()
    assert (coupon.status, coupon.sale_id, coupon.discount) == (Coupon.Status.USED, sale.pk, Decimal("50.00"))
    assert Sale.objects.count() == 1
    assert PointsAccount.objects.get(pk=member.pk).available == 200
    assert_reconciles()


def test_concurrent_issues_to_one_member_stop_at_the_per_member_limit(member):
    template = CouponTemplateFactory(per_member_limit=3)

    results = race(
        10,
        lambda i: coupon_issue(template=template, member=member, source="campaign", issue_key=f"race:{i}"),
    )

    assert Counter(map(outcome, results)) == {"ok": 3, "coupon_limit_reached": 7}
    assert Coupon.objects.filter(member=member).count() == 3
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 3


def test_concurrent_issues_never_exceed_the_total_quantity(policy):
    members = [MemberFactory() for _ in range(20)]
    template = CouponTemplateFactory(total_quantity=5)

    results = race(
        20, lambda i: coupon_issue(template=template, member=members[i], source="campaign", issue_key="race")
    )

    assert Counter(map(outcome, results)) == {"ok": 5, "coupon_quantity_exhausted": 15}
    assert Coupon.objects.count() == 5
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 5


def test_a_bulk_issue_and_single_issues_racing_keep_every_member_within_the_limit(policy):
    members = [MemberFactory() for _ in range(30)]
    template = CouponTemplateFactory(per_member_limit=1)

    def work(i: int):
        if i == 0:
            return coupons_issue_bulk(
                template=template, members=Member.objects.all(), source="bulk", issue_key="segment:1"
            )
        return coupon_issue(template=template, member=members[i], source="campaign", issue_key=f"single:{i}")

    results = race(12, work)

    assert {outcome(r) for r in results} <= {"ok", "coupon_limit_reached"}
    per_member = Counter(Coupon.objects.values_list("member_id", flat=True))
    assert set(per_member.values()) == {1} and len(per_member) == 30
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 30


def test_the_same_bulk_issue_run_twice_at_once_issues_once(policy):
    for _ in range(25):
        MemberFactory()
    template = CouponTemplateFactory(total_quantity=25)

    results = race(
        2,
        lambda i: coupons_issue_bulk(template=template, members=Member.objects.all(), source="bulk", issue_key="k"),
    )

    assert sorted(r.issued for r in results) == [0, 25]
    assert Coupon.objects.count() == 25
    assert CouponTemplate.objects.get(pk=template.pk).issued_count == 25


def test_twenty_buyers_racing_for_the_last_five_gifts_make_five_orders(chain, policy):
    buyers = [MemberFactory() for _ in range(20)]
    for buyer in buyers:
        give(chain, buyer, 2000)
    item = MallItemFactory(stock=5, points_price=1000)

    results = race(
        20,
        lambda i: mall_order_place(
            request_id=rid(), member=buyers[i], item=item, store=chain.store_a, actor=chain.cashier_a
        ),
    )

    assert Counter(map(outcome, results)) == {"ok": 5, "mall_out_of_stock": 15}
    assert MallItem.objects.get(pk=item.pk).stock == 0
    assert MallOrder.objects.count() == 5
    assert sorted(PointsAccount.objects.values_list("available", flat=True)) == [1000] * 5 + [2000] * 15
    assert_reconciles()


def test_one_member_racing_for_an_item_stops_at_the_per_member_limit(chain, member):
    give(chain, member, 10_000)
    item = MallItemFactory(per_member_limit=2, stock=100, points_price=500)

    results = race(
        10,
        lambda i: mall_order_place(
            request_id=rid(), member=member, item=item, store=chain.store_a, actor=chain.cashier_a
        ),
    )

    assert Counter(map(outcome, results)) == {"ok": 2, "mall_limit_reached": 8}
    assert MallItem.objects.get(pk=item.pk).stock == 98
    assert PointsAccount.objects.get(pk=member.pk).available == 9000
    assert_reconciles()


def test_the_same_mall_order_sent_five_times_at_once_is_one_order(chain, member):
    give(chain, member, 5000)
    item, request_id = MallItemFactory(stock=10), rid()

    results = race(
        5,
        lambda i: mall_order_place(
            request_id=request_id, member=member, item=item, store=chain.store_a, actor=chain.cashier_a
        ),
    )

    assert Counter(map(outcome, results)) == {"ok": 5}
    assert len({order.pk for order in results}) == 1
    assert (MallOrder.objects.count(), MallItem.objects.get(pk=item.pk).stock) == (1, 9)
    assert_reconciles()


def test_a_hand_over_racing_a_cancellation_lets_one_of_them_win(chain, member):
    give(chain, member, 5000)
    order = mall_order_place(
        request_id=rid(), member=member, item=MallItemFactory(), store=chain.store_a, actor=chain.cashier_a
    )

    def work(i: int):
        if i == 0:
            return mall_order_hand_over(order=order, staff=chain.cashier_a, store=chain.store_a)
        return mall_order_cancel(order=order, actor=chain.hq_admin, reason="会员不要了")

    results = race(2, work)

    status = MallOrder.objects.get(pk=order.pk).status
    outcomes = sorted(map(outcome, results))
    if status == MallOrder.Status.HANDED_OVER:
        assert outcomes == ["mall_order_handed_over", "ok"]
        assert PointsAccount.objects.get(pk=member.pk).available == 4000
    else:
        assert outcomes == ["mall_order_cancelled", "ok"]
        assert PointsAccount.objects.get(pk=member.pk).available == 5000
    assert_reconciles()
