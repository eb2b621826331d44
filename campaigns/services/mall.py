"""The points mall: members buy gifts (picked up in store) and coupons with points.

An order spends its points through loyalty's ledger (a MALL entry keyed `mall:<order id>`, taken from
the soonest-expiring lots like any redemption) under the member's points-account lock, which also
serialises the per-member limit. Stock is taken by a conditional UPDATE (stock > 0) whose row count is
checked, so twenty buyers racing for the last five gifts make exactly five orders and the stock never
goes below zero (its CHECK constraint backs this).

Locks, always in this order: the member's points account, the mall item (stock), the order, the
coupon template (a coupon item's issue).
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Coupon, MallItem, MallOrder
from campaigns.selectors import mall_refusal, mall_shopper
from campaigns.services.coupons import coupon_issue
from config.errors import field_error as _error
from loyalty.models import PointsEntry, PointsLot
from loyalty.services import points as ledger
from loyalty.services.idempotency import replay, validate_request_id
from loyalty.services.locks import lock_points_account
from loyalty.services.policy import as_replay
from members.models import Member
from stores.models import Store
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action
from stores.services import audit_record


def _refusal(code: str, item: MallItem, *, available: int = 0, limit: int | None = None) -> ValidationError:
    """The message for each reason mall_refusal() gives."""
    if code == "mall_item_unavailable":
        return _error("item", _("“%(item)s” is not on sale."), code, item=item.name)
    if code == "mall_out_of_stock":
        return _error("item", _("“%(item)s” is out of stock."), code, item=item.name)
    if code == "member_frozen":
        return _error("member", _("This member is frozen and cannot spend points."), code)
    if code == "mall_wrong_tier":
        tiers = "、".join(t.name for t in item.tiers.all())
        return _error("item", _("“%(item)s” is for members of %(tiers)s only."), code, item=item.name, tiers=tiers)
    if code == "mall_coupon_unusable":
        return _error(
            "item",
            _("“%(item)s” is a coupon this member could not use: it is for members of %(tiers)s only."),
            code,
            item=item.name,
            tiers="、".join(item.coupon_template.tiers.order_by("rank").values_list("name", flat=True)),
        )
    if code == "mall_limit_reached":
        return _error(
            "item", _("Each member may buy “%(item)s” at most %(limit)d times."), code, item=item.name, limit=limit
        )
    return _error(
        "points",
        _("Not enough points: %(available)d available, %(wanted)d asked."),
        "insufficient_points",
        available=available,
        wanted=item.points_price,
    )


def mall_refusal_message(code: str, item: MallItem, *, available: int = 0) -> str:
    """The message of a mall_refusal() code, for a list that says why an item cannot be bought."""
    error = _refusal(code, item, available=available, limit=item.per_member_limit)
    first = next(iter(error.error_dict.values()))[0]
    return str(first.message % first.params if first.params else first.message)


def _existing_order(request_id: str, *, member: Member, item: MallItem, store: Store | None, actor) -> MallOrder | None:
    order = MallOrder.objects.filter(request_id=request_id).select_related("store").first()
    if order is None:
        return None
    return replay(
        order,
        same=order.member_id == member.pk
        and order.item_id == item.pk
        and order.store_id == (store.pk if store else None),
        actor=actor,
        action=_ordering_action(order.store),
        store=order.store,
        message=_("This request id was already used for a different order."),
    )


def _ordering_action(store: Store | None) -> Action:
    # At a till, the store's staff; without a store an integration (the online mall, a mini-program)
    # ordering for a member needs a back-office role, as other calls without a store do.
    return Action.SELL if store is not None else Action.EDIT_MEMBERS


def _require_may_sell(actor, store: Store | None) -> None:
    require_staff_can(actor, _ordering_action(store), store)


def mall_order_place(
    *, request_id: str, member: Member, item: MallItem, store: Store | None, actor, now: datetime | None = None
) -> MallOrder:
    """A member buys `item` with points. A gift needs the store where it will be picked up; a coupon
    item issues its coupon at once (the order is then delivered). The same request_id again answers the
    first order; another order under it is refused."""
    validate_request_id(request_id)
    _require_may_sell(actor, store)
    existing = _existing_order(request_id, member=member, item=item, store=store, actor=actor)
    if existing is not None:
        return existing
    if item.kind == MallItem.Kind.GIFT and store is None:
        raise _error("store", _("A gift is picked up in a store: say which."), "store_required")
    try:
        with transaction.atomic():
            return _place(request_id=request_id, member=member, item=item, store=store, actor=actor, now=now)
    except IntegrityError:
        # The same request sent twice at once for another member: the first order is the answer.
        existing = _existing_order(request_id, member=member, item=item, store=store, actor=actor)
        if existing is None:
            raise
        return existing


def _place(*, request_id, member, item, store, actor, now) -> MallOrder:
    now = now or timezone.now()
    account = lock_points_account(member)
    existing = _existing_order(request_id, member=member, item=item, store=store, actor=actor)
    if existing is not None:
        return existing
    item = MallItem.objects.select_related("coupon_template").prefetch_related("tiers").get(pk=item.pk)
    member = Member.objects.get(pk=member.pk)
    shopper = mall_shopper(member)
    reason = mall_refusal(item, shopper)
    if reason is not None:
        raise _refusal(reason, item, available=shopper.points, limit=item.per_member_limit)
    if item.stock is not None:
        taken = MallItem.objects.filter(pk=item.pk, stock__gt=0).update(stock=F("stock") - 1)
        if not taken:
            raise _refusal("mall_out_of_stock", item)
    is_gift = item.kind == MallItem.Kind.GIFT
    order = MallOrder.objects.create(
        request_id=request_id,
        member=member,
        item=item,
        points=item.points_price,
        status=MallOrder.Status.PLACED,
        store=store,
    )
    ledger.debit(
        account,
        points=item.points_price,
        kind=PointsEntry.Kind.MALL,
        key=f"mall:{order.pk}",
        ctx=ledger.EntryContext(
            store_id=store.pk if store else None, staff_id=actor.pk, reason=f"{item.name} (#{order.pk})"[:255]
        ),
        now=now,
    )
    if not is_gift:
        coupon = coupon_issue(
            template=item.coupon_template,
            member=member,
            source=Coupon.Source.MALL,
            issue_key=f"mall:{order.pk}",
            now=now,
        )
        order.coupon = coupon
        order.status = MallOrder.Status.DELIVERED
        order.save(update_fields=["coupon", "status"])
    return order


@transaction.atomic
def mall_order_hand_over(*, order: MallOrder, staff, store: Store, now: datetime | None = None) -> MallOrder:
    """The pick-up store hands a gift over to the member. Recorded (who, when) and audited; handing it
    over again answers the order as it is."""
    require_staff_can(staff, Action.SELL, store)
    order = MallOrder.objects.select_related("item", "store", "member").get(pk=order.pk)
    if order.item.kind != MallItem.Kind.GIFT:
        raise _error("order", _("This order was a coupon, issued at once: nothing to hand over."), "mall_not_a_gift")
    if order.store_id != store.pk:
        raise _error(
            "store",
            _("This gift is to be picked up at %(store)s."),
            "mall_wrong_store",
            store=order.store.code if order.store else "—",
        )
    now = now or timezone.now()
    handed = MallOrder.objects.filter(pk=order.pk, status=MallOrder.Status.PLACED).update(
        status=MallOrder.Status.HANDED_OVER, handed_over_at=now, handed_over_by=staff
    )
    order.refresh_from_db()
    if not handed:
        if order.status == MallOrder.Status.HANDED_OVER:
            return as_replay(order)
        raise _error("order", _("This order was cancelled: its points went back."), "mall_order_cancelled")
    audit_record(
        actor=staff,
        action="mall.handed_over",
        target=order,
        store=store,
        data={"item": order.item_id, "member": order.member.code, "points": order.points},
    )
    return order


def _require_may_cancel(actor, order: MallOrder) -> None:
    # HQ for any order; a store manager (who approves refunds there) for gifts waiting at their store.
    if staff_can(actor, Action.MANAGE_CAMPAIGNS):
        return
    if order.store is not None and staff_can(actor, Action.APPROVE_REFUND, order.store):
        return
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)


def mall_order_cancel(*, order: MallOrder, actor, reason: str, now: datetime | None = None) -> MallOrder:
    """Cancel an order before its gift is handed over (or while its coupon is unused): the points go
    back to the very lots they came from, the stock goes back, the coupon is voided. Audited."""
    reason = (reason or "").strip()
    order = MallOrder.objects.select_related("store").get(pk=order.pk)
    _require_may_cancel(actor, order)
    if not reason:
        raise _error("reason", _("Give a reason for cancelling the order."), "reason_required")
    with transaction.atomic():
        return _cancel(order=order, actor=actor, reason=reason[:255], now=now or timezone.now())


def _cancel(*, order: MallOrder, actor, reason: str, now: datetime) -> MallOrder:
    account = lock_points_account(order.member_id)
    cancelled = MallOrder.objects.filter(
        pk=order.pk, status__in=[MallOrder.Status.PLACED, MallOrder.Status.DELIVERED]
    ).update(status=MallOrder.Status.CANCELLED)
    order = MallOrder.objects.select_related("item", "member", "coupon").get(pk=order.pk)
    if not cancelled:
        if order.status == MallOrder.Status.CANCELLED:
            return as_replay(order)
        raise _error(
            "order", _("This gift was handed over already: the order cannot be cancelled."), "mall_order_handed_over"
        )
    if order.coupon_id is not None:
        voided = Coupon.objects.filter(pk=order.coupon_id, status=Coupon.Status.ISSUED).update(
            status=Coupon.Status.VOID
        )
        if not voided:
            raise _error(
                "order",
                _("The order's coupon %(code)s has been used: the order cannot be cancelled."),
                "mall_coupon_used",
                code=order.coupon.code,
            )
    spent = PointsEntry.objects.get(member_id=order.member_id, idempotency_key=f"mall:{order.pk}")
    restored = ledger.restore(
        account,
        points=order.points,
        redeem_entry=spent,
        key=f"mall:{order.pk}:cancel",
        ctx=ledger.EntryContext(store_id=order.store_id, staff_id=actor.pk, reason=f"{reason} (#{order.pk})"[:255]),
        kind=PointsEntry.Kind.MALL_REFUND,
    )
    # Points given back to a lot that has expired since the order expire again at once.
    for lot in PointsLot.objects.filter(allocations__entry=restored, expires_at__lte=now).order_by("id"):
        ledger.expire_lot(account, lot, now=now)
    MallItem.objects.filter(pk=order.item_id, stock__isnull=False).update(stock=F("stock") + 1)
    audit_record(
        actor=actor,
        action="mall.cancelled",
        target=order,
        store=order.store,
        reason=reason,
        data={"item": order.item_id, "member": order.member.code, "points": order.points, "coupon": order.coupon_id},
    )
    return order


@transaction.atomic
def mall_item_restock(*, item: MallItem, change: int, actor, reason: str = "") -> MallItem:
    """Add (or take away) stock by a relative change, so concurrent orders are never overwritten; the
    stock cannot go below zero. Audited."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    if not isinstance(change, int) or change == 0:
        raise _error("stock_change", _("Enter how much stock to add (or, negative, take away)."), "invalid_stock")
    if item.stock is None:
        raise _error("stock_change", _("This item has no stock limit."), "invalid_stock")
    changed = MallItem.objects.filter(pk=item.pk, stock__gte=-change if change < 0 else 0).update(
        stock=F("stock") + change
    )
    item.refresh_from_db(fields=["stock"])
    if not changed:
        raise _error(
            "stock_change",
            _("Only %(stock)d in stock: that much cannot be taken away."),
            "invalid_stock",
            stock=item.stock,
        )
    audit_record(
        actor=actor,
        action="mall.restocked",
        target=item,
        reason=reason or str(_("Stock changed in the back office")),
        data={"change": change, "stock": item.stock},
    )
    return item
