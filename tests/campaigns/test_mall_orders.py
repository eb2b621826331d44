"""The points mall: buying gifts and coupons with points, handing gifts over, cancelling to the same lots."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.utils import translation

from campaigns.models import Coupon, MallItem, MallOrder
from campaigns.services.mall import mall_item_restock, mall_order_cancel, mall_order_hand_over, mall_order_place
from loyalty.models import MemberStats, PointsAccount, PointsAllocation, PointsEntry, PointsLot
from loyalty.reconcile import ledger_mismatches
from members.services import member_set_status
from stores.models import AuditEntry
from tests.campaigns.conftest import line, rid
from tests.factories.campaigns import CouponMallItemFactory, MallItemFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 8, 3, 11, 0))


@pytest.fixture
def rich(member, give_points):
    give_points(member, 5000)
    return member


def place(chain, member, item, *, store="a", request_id=None, actor=None):
    return mall_order_place(
        request_id=request_id or rid(),
        member=member,
        item=item,
        store={"a": chain.store_a, "b": chain.store_b, None: None}[store],
        actor=actor or chain.cashier_a,
    )


def refused(excinfo) -> tuple[str, str, str]:
    field, errors = next(iter(excinfo.value.error_dict.items()))
    error = errors[0]
    return field, error.code, str(error.message % error.params if error.params else error.message)


def available(member) -> int:
    return PointsAccount.objects.get(pk=member.pk).available


def assert_reconciles() -> None:
    assert ledger_mismatches() == []


# Placing orders


def test_a_member_buys_a_gift_with_points_to_pick_up_at_the_store(chain, rich):
    item = MallItemFactory(points_price=1000, stock=10)

    order = place(chain, rich, item)

    assert (order.status, order.points, order.store) == (MallOrder.Status.PLACED, 1000, chain.store_a)
    assert available(rich) == 4000
    item.refresh_from_db()
    assert item.stock == 9
    entry = PointsEntry.objects.get(idempotency_key=f"mall:{order.pk}")
    assert (entry.kind, entry.points, entry.staff, entry.store) == ("mall", -1000, chain.cashier_a, chain.store_a)
    assert_reconciles()


def test_a_coupon_item_issues_its_coupon_at_once(chain, rich):
    item = CouponMallItemFactory(points_price=500)

    order = place(chain, rich, item, store=None, actor=chain.hq_admin)

    assert order.status == MallOrder.Status.DELIVERED
    coupon = order.coupon
    assert (coupon.member, coupon.template, coupon.source, coupon.issue_key) == (
        rich,
        item.coupon_template,
        Coupon.Source.MALL,
        f"mall:{order.pk}",
    )
    assert available(rich) == 4500


def test_the_points_come_from_the_soonest_expiring_lots(chain, member, give_points, clock):
    give_points(member, 600)
    clock.advance(days=40)
    give_points(member, 600)

    order = place(chain, member, MallItemFactory(points_price=800))

    taken = list(
        PointsAllocation.objects.filter(entry__idempotency_key=f"mall:{order.pk}")
        .order_by("lot_id")
        .values_list("lot_id", "points")
    )
    first, second = PointsLot.objects.order_by("id")
    assert taken == [(first.pk, -600), (second.pk, -200)]
    assert (first.remaining, second.remaining) == (0, 400)


def test_the_same_request_again_answers_the_first_order(chain, rich):
    item, request_id = MallItemFactory(), rid()

    first = place(chain, rich, item, request_id=request_id)
    again = place(chain, rich, item, request_id=request_id)

    assert again.pk == first.pk and again.replayed
    assert available(rich) == 4000
    assert MallOrder.objects.count() == 1


def test_a_request_id_reused_for_another_item_is_refused(chain, rich):
    request_id = rid()
    place(chain, rich, MallItemFactory(), request_id=request_id)

    with pytest.raises(ValidationError) as excinfo:
        place(chain, rich, MallItemFactory(), request_id=request_id)

    assert refused(excinfo)[1] == "request_id_reused"


def test_not_enough_points_is_refused_and_nothing_is_written(chain, member, give_points):
    give_points(member, 900)
    item = MallItemFactory(points_price=1000, stock=3)

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        place(chain, member, item)

    assert refused(excinfo) == ("points", "insufficient_points", "Not enough points: 900 available, 1000 asked.")
    item.refresh_from_db()
    assert (item.stock, MallOrder.objects.count(), available(member)) == (3, 0, 900)


def test_an_item_for_higher_tiers_is_refused_to_others(chain, rich, tiers):
    MemberStats.objects.update_or_create(member=rich, defaults={"tier": tiers["normal"]})
    item = MallItemFactory(tiers=[tiers["gold"]], name="金卡专享")

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        place(chain, rich, item)

    assert refused(excinfo) == ("item", "mall_wrong_tier", "“金卡专享” is for members of 金卡 only.")
    assert not MallOrder.objects.exists()


def test_a_member_of_the_tier_may_buy_it(chain, rich, tiers):
    MemberStats.objects.update_or_create(member=rich, defaults={"tier": tiers["gold"]})

    assert place(chain, rich, MallItemFactory(tiers=[tiers["gold"]])).status == MallOrder.Status.PLACED


def test_a_member_buys_no_more_than_the_per_member_limit(chain, rich):
    item = MallItemFactory(per_member_limit=2, name="限购两件")
    place(chain, rich, item)
    place(chain, rich, item)

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        place(chain, rich, item)

    assert refused(excinfo) == ("item", "mall_limit_reached", "Each member may buy “限购两件” at most 2 times.")
    assert available(rich) == 3000


def test_a_cancelled_order_does_not_count_toward_the_limit(chain, rich):
    item = MallItemFactory(per_member_limit=1)
    mall_order_cancel(order=place(chain, rich, item), actor=chain.hq_admin, reason="买错了")

    assert place(chain, rich, item).status == MallOrder.Status.PLACED


def test_an_item_out_of_stock_is_refused(chain, rich):
    item = MallItemFactory(stock=0, name="售罄")

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        place(chain, rich, item)

    assert refused(excinfo) == ("item", "mall_out_of_stock", "“售罄” is out of stock.")
    assert available(rich) == 5000


def test_an_item_not_on_sale_is_refused(chain, rich):
    with pytest.raises(ValidationError) as excinfo:
        place(chain, rich, MallItemFactory(is_active=False))

    assert refused(excinfo)[1] == "mall_item_unavailable"


def test_a_frozen_member_cannot_buy(chain, rich):
    member_set_status(member=rich, actor=chain.hq_admin, status="frozen", reason="挂失")

    with pytest.raises(ValidationError) as excinfo:
        place(chain, rich, MallItemFactory())

    assert refused(excinfo)[1] == "member_frozen"
    assert available(rich) == 5000


def test_a_gift_needs_its_pick_up_store(chain, rich):
    with pytest.raises(ValidationError) as excinfo:
        place(chain, rich, MallItemFactory(), store=None, actor=chain.hq_admin)

    assert refused(excinfo)[:2] == ("store", "store_required")


def test_a_cashier_orders_only_at_their_store(chain, rich):
    with pytest.raises(PermissionDenied):
        place(chain, rich, MallItemFactory(), store="b", actor=chain.cashier_a)

    assert not MallOrder.objects.exists()


# Handing over


def test_the_pick_up_store_hands_the_gift_over_and_it_is_recorded(chain, rich, clock):
    order = place(chain, rich, MallItemFactory())
    clock.advance(hours=3)

    handed = mall_order_hand_over(order=order, staff=chain.cashier_a, store=chain.store_a)

    assert (handed.status, handed.handed_over_by, handed.handed_over_at) == (
        MallOrder.Status.HANDED_OVER,
        chain.cashier_a,
        clock.now,
    )
    entry = AuditEntry.objects.get(action="mall.handed_over")
    assert (entry.actor, entry.store, entry.target_id) == (chain.cashier_a, chain.store_a, str(order.pk))


def test_handing_over_again_answers_the_order_as_it_is(chain, rich):
    order = place(chain, rich, MallItemFactory())
    mall_order_hand_over(order=order, staff=chain.cashier_a, store=chain.store_a)

    again = mall_order_hand_over(order=order, staff=chain.manager_a, store=chain.store_a)

    assert again.replayed and again.handed_over_by == chain.cashier_a
    assert AuditEntry.objects.filter(action="mall.handed_over").count() == 1


def test_another_store_cannot_hand_the_gift_over(chain, rich):
    order = place(chain, rich, MallItemFactory())

    with pytest.raises(ValidationError) as excinfo, translation.override("en"):
        mall_order_hand_over(order=order, staff=chain.cashier_b, store=chain.store_b)

    assert refused(excinfo) == ("store", "mall_wrong_store", "This gift is to be picked up at SH001.")
    order.refresh_from_db()
    assert order.status == MallOrder.Status.PLACED


def test_staff_of_another_store_cannot_hand_over_at_the_pick_up_store(chain, rich):
    order = place(chain, rich, MallItemFactory())

    with pytest.raises(PermissionDenied):
        mall_order_hand_over(order=order, staff=chain.cashier_b, store=chain.store_a)


def test_a_cancelled_order_cannot_be_handed_over(chain, rich):
    order = place(chain, rich, MallItemFactory())
    mall_order_cancel(order=order, actor=chain.hq_admin, reason="会员不要了")

    with pytest.raises(ValidationError) as excinfo:
        mall_order_hand_over(order=order, staff=chain.cashier_a, store=chain.store_a)

    assert refused(excinfo)[1] == "mall_order_cancelled"


def test_a_coupon_order_has_nothing_to_hand_over(chain, rich):
    order = place(chain, rich, CouponMallItemFactory())

    with pytest.raises(ValidationError) as excinfo:
        mall_order_hand_over(order=order, staff=chain.cashier_a, store=chain.store_a)

    assert refused(excinfo)[1] == "mall_not_a_gift"


# Cancelling


def test_cancelling_returns_the_points_to_the_very_lots_they_came_from(chain, member, give_points, clock):
    give_points(member, 300)
    clock.advance(days=10)
    give_points(member, 700)
    item = MallItemFactory(points_price=800, stock=5)
    order = place(chain, member, item)
    before = list(PointsLot.objects.order_by("id").values_list("remaining", flat=True))

    cancelled = mall_order_cancel(order=order, actor=chain.manager_a, reason="会员改主意了")

    assert before == [0, 200]
    assert list(PointsLot.objects.order_by("id").values_list("remaining", flat=True)) == [300, 700]
    assert cancelled.status == MallOrder.Status.CANCELLED
    assert available(member) == 1000
    entry = PointsEntry.objects.get(idempotency_key=f"mall:{order.pk}:cancel")
    assert (entry.kind, entry.points) == (PointsEntry.Kind.MALL_REFUND, 800)
    item.refresh_from_db()
    assert item.stock == 5
    assert AuditEntry.objects.get(action="mall.cancelled").reason == "会员改主意了"
    assert_reconciles()
    out = StringIO()
    call_command("reconcile_ledger", stdout=out)
    assert "all balanced" in out.getvalue()


def test_cancelling_twice_returns_the_points_once(chain, rich):
    order = place(chain, rich, MallItemFactory())
    mall_order_cancel(order=order, actor=chain.hq_admin, reason="重复")

    again = mall_order_cancel(order=order, actor=chain.hq_admin, reason="重复")

    assert again.replayed
    assert available(rich) == 5000
    assert_reconciles()


def test_two_orders_cancelled_each_give_back_their_own_points(chain, member, give_points):
    # The restores of one order are found by its key, not mistaken for another's (neither has a sale).
    give_points(member, 1000)
    first, second = (
        place(chain, member, MallItemFactory(points_price=400)),
        place(chain, member, MallItemFactory(points_price=600)),
    )

    mall_order_cancel(order=first, actor=chain.hq_admin, reason="x")
    mall_order_cancel(order=second, actor=chain.hq_admin, reason="x")

    assert available(member) == 1000
    assert list(PointsLot.objects.values_list("remaining", flat=True)) == [1000]
    assert_reconciles()


def test_points_returned_to_a_lot_that_expired_since_expire_again(chain, member, give_points, clock):
    give_points(member, 1000)
    order = place(chain, member, MallItemFactory(points_price=1000))
    PointsLot.objects.update(expires_at=local(2026, 8, 4, 0, 0))
    clock.set(local(2026, 8, 5, 9, 0))

    mall_order_cancel(order=order, actor=chain.hq_admin, reason="过期后取消")

    assert available(member) == 0
    assert PointsEntry.objects.filter(kind=PointsEntry.Kind.EXPIRE, points=-1000).count() == 1
    assert_reconciles()


def test_a_handed_over_gift_cannot_be_cancelled(chain, rich):
    order = place(chain, rich, MallItemFactory())
    mall_order_hand_over(order=order, staff=chain.cashier_a, store=chain.store_a)

    with pytest.raises(ValidationError) as excinfo:
        mall_order_cancel(order=order, actor=chain.hq_admin, reason="x")

    assert refused(excinfo)[1] == "mall_order_handed_over"
    assert available(rich) == 4000


def test_cancelling_a_coupon_order_voids_its_unused_coupon(chain, rich):
    order = place(chain, rich, CouponMallItemFactory(points_price=500))

    mall_order_cancel(order=order, actor=chain.marketer, reason="不要了")

    order.coupon.refresh_from_db()
    assert order.coupon.status == Coupon.Status.VOID
    assert available(rich) == 5000


def test_a_coupon_order_whose_coupon_was_used_cannot_be_cancelled(chain, rich, checkout):
    order = place(chain, rich, CouponMallItemFactory(points_price=500))  # ¥10 off
    checkout(rich, [line("饮品", 30)], coupons=[order.coupon.code], cash="20.00")

    with pytest.raises(ValidationError) as excinfo:
        mall_order_cancel(order=order, actor=chain.hq_admin, reason="x")

    assert refused(excinfo)[1] == "mall_coupon_used"
    order.refresh_from_db()
    assert order.status == MallOrder.Status.DELIVERED


def test_a_cancellation_needs_a_reason(chain, rich):
    order = place(chain, rich, MallItemFactory())

    with pytest.raises(ValidationError) as excinfo:
        mall_order_cancel(order=order, actor=chain.hq_admin, reason=" ")

    assert refused(excinfo)[:2] == ("reason", "reason_required")


def test_a_cashier_cannot_cancel_orders(chain, rich):
    order = place(chain, rich, MallItemFactory())

    with pytest.raises(PermissionDenied):
        mall_order_cancel(order=order, actor=chain.cashier_a, reason="x")


# Stock


def test_stock_changes_by_what_is_added_and_never_below_zero(chain):
    item = MallItemFactory(stock=3)

    assert mall_item_restock(item=item, change=5, actor=chain.marketer).stock == 8
    with pytest.raises(ValidationError) as excinfo:
        mall_item_restock(item=item, change=-9, actor=chain.marketer)

    assert refused(excinfo)[1] == "invalid_stock"
    assert MallItem.objects.get(pk=item.pk).stock == 8
    assert AuditEntry.objects.filter(action="mall.restocked").count() == 1
