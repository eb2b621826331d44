"""sale_refund: give back what a sale took, in proportion, and take back what it earned.

A refund of amount A out of what the customer paid P (money, stored value and points at their
value) returns each tender's share cumulatively: after refunds totalling R, each tender has
returned floor(its amount × R / P), so partial refunds never drift and a full refund returns
everything exactly. Points earned are clawed back the same way; where the member already spent
them, the shortfall becomes debt that later earnings settle first.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import LoyaltySettings, MemberDailySpend, PointsEntry, PointsLot, Refund, Sale, WalletEntry
from loyalty.services import points as ledger
from loyalty.services.checkout import coupon_applier
from loyalty.services.idempotency import payload_hash, replay, validate_request_id
from loyalty.services.locks import lock_points_account, lock_sale, lock_wallet, stats_for_update
from loyalty.services.policy import money, money_down, refund_window_start
from loyalty.services.tiers import tier_after_refund
from loyalty.services.wallet import wallet_move
from stores.models import Store
from stores.permissions import staff_access, staff_can
from stores.roles import Action
from stores.services import audit_record


@dataclass(frozen=True)
class RefundLineInput:
    line_no: int
    quantity: Decimal


def _cumulative(total, refunded_after: Decimal, paid: Decimal, *, integer: bool = False):
    share = Decimal(total) * refunded_after / paid
    if integer:
        return int(share.to_integral_value(rounding=ROUND_FLOOR))
    return money_down(share)


def _existing_refund(request_id: str, digest: str, actor) -> Refund | None:
    refund = Refund.objects.filter(request_id=request_id).select_related("sale__store").first()
    if refund is None:
        return None
    return replay(
        refund,
        same=refund.payload_hash == digest,
        actor=actor,
        action=Action.REQUEST_REFUND,
        store=refund.sale.store,
        message=_("This request id was already used for a different refund."),
    )


def refund_window_open(sale: Sale, *, now: datetime | None = None, policy: LoyaltySettings | None = None) -> bool:
    """Whether store staff may still refund `sale` (LoyaltySettings.refund_window_days); after it, only HQ."""
    return sale.created_at >= refund_window_start(policy or LoyaltySettings.current(), now=now)


def may_refund_late(actor, sale: Sale) -> bool:
    """Past the refund window, only HQ refunds (a chain-wide role that approves refunds), with a reason."""
    return staff_access(actor).chain_wide and staff_can(actor, Action.APPROVE_REFUND, sale.store)


def _store_refusal(sale: Sale, actor, store: Store | None) -> Exception | None:
    # The store of record is the sale's, whatever the client says (DESIGN §10): a refund is authorised,
    # approved and recorded there.
    if store is not None and store.pk != sale.store_id:
        return _error(
            "store",
            _("Sale %(sale)s was made at %(store)s: it is refunded there."),
            "store_mismatch",
            sale=sale.pk,
            store=sale.store.code,
        )
    if not staff_can(actor, Action.REQUEST_REFUND, sale.store):
        return PermissionDenied(_("You may not do this at store %(store)s.") % {"store": sale.store.code})
    return None


def _window_refusal(sale: Sale, actor, policy: LoyaltySettings) -> Exception | None:
    if refund_window_open(sale, policy=policy) or may_refund_late(actor, sale):
        return None
    return _error(
        None,
        _("Sales older than %(days)d days are refunded by HQ only."),
        "refund_window_closed",
        days=policy.refund_window_days,
    )


_refund_guards: list[Callable[[Sale], str]] = []


def register_refund_guard(guard: Callable[[Sale], str]) -> None:
    """For an app above loyalty whose goods are more than money (a service card carries its uses): `guard`
    says why a sale of its goods must be refunded through its own service, or "" if it need not."""
    if guard not in _refund_guards:
        _refund_guards.append(guard)


def _guard_refusal(sale: Sale) -> ValidationError | None:
    for guard in _refund_guards:
        message = guard(sale)
        if message:
            return _error(None, message, "refund_elsewhere")
    return None


def sale_refund_refusal(*, sale: Sale, actor, store: Store | None = None) -> str:
    """Why sale_refund would refuse `actor` (at the till of `store`) whatever they asked, or "" if it would
    not: the sale's store, the right to refund there, the refund window. The till offers a refund only
    where this is empty."""
    refusal = (
        _store_refusal(sale, actor, store)
        or _guard_refusal(sale)
        or _window_refusal(sale, actor, LoyaltySettings.current())
    )
    if refusal is None:
        return ""
    return refusal.messages[0] if isinstance(refusal, ValidationError) else str(refusal)


def sale_refund(
    *,
    request_id: str,
    sale: Sale,
    actor,
    reason: str,
    amount: Decimal | None = None,
    lines: list[RefundLineInput] | None = None,
    approver=None,
    store: Store | None = None,
    guarded: bool = False,
) -> Refund:
    """Refund `sale` in part (`amount` or `lines`) or in full, at the sale's store.

    `store`, when given, must be the sale's: a refund is recorded where the sale was made. A cashier needs
    `approver`, someone who may approve refunds at the sale's store. Past the refund window only HQ
    refunds. The same request_id again answers the first refund to whoever may refund at that store.
    `guarded`: the caller is the service that owns the sale's goods (servicecards.services.cards.card_refund),
    which the registered refund guards otherwise send the refund to; its own refund policy stands in for the
    refund window (a card is refunded pro rata for as long as it is valid)."""
    validate_request_id(request_id)
    digest = payload_hash(
        sale=sale.pk,
        amount=amount,
        lines=[(line.line_no, line.quantity) for line in lines or []],
        reason=reason,
    )
    refusal = _store_refusal(sale, actor, store) or (None if guarded else _guard_refusal(sale))
    if refusal is not None:
        raise refusal
    if not staff_can(actor, Action.APPROVE_REFUND, sale.store):
        if approver is None:
            raise _error("approver", _("A manager must approve this refund."), "approval_required")
        if not staff_can(approver, Action.APPROVE_REFUND, sale.store):
            raise _error("approver", _("The approver may not approve refunds at this store."), "approval_invalid")
    existing = _existing_refund(request_id, digest, actor)
    if existing is not None:
        return existing
    if not reason or not reason.strip():
        raise _error("reason", _("Give a reason for the refund."), "reason_required")
    if (amount is None) == (not lines):
        raise _error("amount", _("Refund either an amount or lines, not both."), "amount_or_lines")
    if amount is not None and (amount <= 0 or amount != money(amount)):
        raise _error("amount", _("The amount must be above zero, in cents."), "invalid_amount")
    policy = LoyaltySettings.current()
    refusal = None if guarded else _window_refusal(sale, actor, policy)
    if refusal is not None:
        raise refusal
    late = not refund_window_open(sale, policy=policy)
    try:
        with transaction.atomic():
            return _refund(
                request_id=request_id,
                digest=digest,
                sale_id=sale.pk,
                actor=actor,
                approver=approver,
                reason=reason.strip()[:255],
                amount=amount,
                lines=lines,
                late=late,
            )
    except IntegrityError:
        existing = _existing_refund(request_id, digest, actor)
        if existing is None:
            raise
        return existing


def _refund(*, request_id, digest, sale_id, actor, approver, reason, amount, lines, late) -> Refund:
    # The sale row is the refund's lock: a refund raced against itself (or a second one for the
    # rest) waits here and then sees what the first one already returned.
    sale = lock_sale(sale_id)
    store = sale.store
    existing = _existing_refund(request_id, digest, actor)
    if existing is not None:
        return existing
    line_changes = []
    if lines:
        by_no = {line.line_no: line for line in sale.lines.all()}
        amount = Decimal("0.00")
        seen = set()
        for item in lines:
            line = by_no.get(item.line_no)
            if line is None or item.line_no in seen:
                raise _error("lines", _("Line %(no)s is not on this sale."), "invalid_line", no=item.line_no)
            seen.add(item.line_no)
            if item.quantity <= 0 or item.quantity > line.quantity - line.refunded_quantity:
                raise _error(
                    "lines",
                    _("Line %(no)s: at most %(left)s can still be refunded."),
                    "refund_exceeds_sale",
                    no=item.line_no,
                    left=line.quantity - line.refunded_quantity,
                )
            # Cumulative per line, like the tenders below: refunding a line one item at a time
            # returns exactly its net amount in the end (¥9.10 over 3 items is 3.03 + 3.04 + 3.03).
            done = line.refunded_quantity
            amount += money(line.net_amount * (done + item.quantity) / line.quantity) - money(
                line.net_amount * done / line.quantity
            )
            line_changes.append((line, item.quantity))
        if amount <= 0:
            # Free lines (a gift at ¥0) return no money; a refund row of ¥0 would break its CHECK.
            raise _error("lines", _("These lines were free: there is nothing to refund."), "invalid_amount")
    paid = sale.paid_total
    if amount > paid - sale.refunded_amount:
        raise _error(
            "amount",
            _("At most ¥%(left)s of this sale can still be refunded."),
            "refund_exceeds_sale",
            left=paid - sale.refunded_amount,
        )
    before, after = sale.refunded_amount, sale.refunded_amount + amount
    full = after == paid

    parts = _tender_parts(sale, amount=amount, before=before, after=after, full=full)

    def points_share(total: int) -> int:
        if full:
            return total - _cumulative(total, before, paid, integer=True)
        return _cumulative(total, after, paid, integer=True) - _cumulative(total, before, paid, integer=True)

    restore_points = points_share(sale.points_redeemed)
    clawback_points = points_share(sale.points_earned)
    refund = Refund.objects.create(
        request_id=request_id,
        payload_hash=digest,
        sale=sale,
        amount=amount,
        reason=reason,
        created_by=actor,
        approved_by=approver,
        store=store,
        lines=[{"line_no": line.line_no, "quantity": str(quantity)} for line, quantity in line_changes],
        money_refunded=parts["money"],
        principal_restored=parts["principal"],
        bonus_restored=parts["bonus"],
        points_restored=restore_points,
        points_clawed_back=clawback_points,
    )
    for line, quantity in line_changes:
        # Added up here, exactly, not in SQL: SQLite would add 0.1 + 0.2 kg as REAL and fail the line's
        # CHECK (refunded ≤ quantity). The sale's row lock keeps anyone else off these lines meanwhile.
        type(line).objects.filter(pk=line.pk).update(refunded_quantity=line.refunded_quantity + quantity)
    sale.refunded_amount = after
    sale.status = Sale.Status.REFUNDED if full else Sale.Status.PARTLY_REFUNDED
    sale.save(update_fields=["refunded_amount", "status"])

    now = timezone.now()
    if sale.member_id is not None:
        account = lock_points_account(sale.member_id)
        wallet = lock_wallet(sale.member_id) if parts["principal"] or parts["bonus"] else None
        stats = stats_for_update(sale.member_id)
        ctx = ledger.EntryContext(
            store_id=store.pk, staff_id=actor.pk, sale_id=sale.pk, refund_id=refund.pk, reason=reason
        )
        if restore_points:
            redeem_entry = PointsEntry.objects.get(member_id=sale.member_id, idempotency_key=f"sale:{sale.pk}:redeem")
            restored = ledger.restore(
                account, points=restore_points, redeem_entry=redeem_entry, key=f"refund:{refund.pk}:restore", ctx=ctx
            )
            # Points given back to a lot that has expired since the sale expire again at once, rather
            # than sit in the balance unspendable until the next expiry run.
            for lot in PointsLot.objects.filter(allocations__entry=restored, expires_at__lte=now).order_by("id"):
                ledger.expire_lot(account, lot, now=now)
        if clawback_points:
            own_lot = (
                PointsLot.objects.filter(entry__idempotency_key=f"sale:{sale.pk}:earn", entry__member_id=sale.member_id)
                .values_list("pk", flat=True)
                .first()
            )
            _entry, debt = ledger.clawback(
                account,
                points=clawback_points,
                key=f"refund:{refund.pk}:clawback",
                ctx=ctx,
                own_lot_id=own_lot,
                now=now,
            )
            if debt:
                refund.debt_created = debt
                refund.save(update_fields=["debt_created"])
        if wallet is not None:
            wallet_move(
                wallet,
                kind=WalletEntry.Kind.RESTORE,
                principal=parts["principal"],
                bonus=parts["bonus"],
                key=f"refund:{refund.pk}:restore",
                store_id=store.pk,
                staff_id=actor.pk,
                sale_id=sale.pk,
                refund_id=refund.pk,
            )
        spend_back = parts["money"] + parts["principal"] + parts["bonus"]
        MemberDailySpend.objects.filter(member_id=sale.member_id, day=timezone.localdate(sale.created_at)).update(
            spend=F("spend") - spend_back, points_earned=F("points_earned") - clawback_points
        )
        # On the same basis as total_spend (what was paid with money and stored value, not points).
        stats.total_refunded += spend_back
        stats.save(update_fields=["total_refunded"])
        tier_after_refund(stats, sale=sale, now=now)
    if full and sale.coupon_code and coupon_applier() is not None:
        coupon_applier().release(sale=sale)
    audit_record(
        actor=actor,
        action="sale.refunded",
        target=sale,
        store=store,
        reason=reason,
        data={
            "refund": refund.pk,
            "amount": str(amount),
            "approved_by": approver.get_username() if approver else None,
            "points_restored": restore_points,
            "points_clawed_back": clawback_points,
            **({"late": True, "sale_made_at": sale.created_at.isoformat()} if late else {}),
        },
    )
    return refund


_NON_MONEY = ("points_value", "principal", "bonus")


def _tender_parts(sale: Sale, *, amount: Decimal, before: Decimal, after: Decimal, full: bool) -> dict[str, Decimal]:
    """How much of `amount` each tender returns: points (at their value), principal, bonus, money.

    Each non-money tender has returned floor(its total × refunded / paid) after each refund, worked
    out against what the earlier refunds really returned, so the last refund returns exactly the
    rest of every tender. Money takes what is left; where rounding leaves it a cent outside what
    money can still return, the cent moves to the other tenders that have room.
    """
    paid = sale.paid_total
    totals = {
        "points_value": sale.points_value,
        "principal": sale.paid_principal,
        "bonus": sale.paid_bonus,
        "money": sale.paid_money,
    }
    prior = sale.refunds.aggregate(
        money=Sum("money_refunded"), principal=Sum("principal_restored"), bonus=Sum("bonus_restored")
    )
    returned = {name: prior[name] or Decimal("0.00") for name in ("money", "principal", "bonus")}
    returned["points_value"] = before - returned["money"] - returned["principal"] - returned["bonus"]
    parts = {}
    for name in _NON_MONEY:
        target = totals[name] if full else _cumulative(totals[name], after, paid)
        parts[name] = min(max(target - returned[name], Decimal("0.00")), totals[name] - returned[name])
    parts["money"] = amount - sum(parts.values(), Decimal("0.00"))
    money_left = totals["money"] - returned["money"]
    shift = parts["money"] - min(max(parts["money"], Decimal("0.00")), money_left)
    parts["money"] -= shift
    for name in sorted(_NON_MONEY, key=lambda k: parts[k], reverse=True):
        # Too much on money: give it to parts with room left; money below zero: take it from parts.
        step = min(shift, totals[name] - returned[name] - parts[name]) if shift > 0 else -min(-shift, parts[name])
        parts[name] += step
        shift -= step
    if shift:
        raise AssertionError(f"refund of {amount} cannot be split over the sale's tenders")
    return parts


def refunded_totals(sale: Sale) -> dict:
    return sale.refunds.aggregate(
        amount=Sum("amount"), points_restored=Sum("points_restored"), points_clawed_back=Sum("points_clawed_back")
    )
