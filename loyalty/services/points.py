"""The points ledger: every movement is an entry; earned points live in lots with their own expiry.

Callers hold the member's points account lock (loyalty.services.locks.lock_points_account). Each
function writes a constant number of queries whatever the member's history, using bulk updates
for the lots it touches.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import LoyaltySettings, PointsAccount, PointsAllocation, PointsEntry, PointsLot
from loyalty.services.policy import available_from, expiry_for

_LOT_BATCH = 50


@dataclass
class EntryContext:
    store_id: int | None = None
    staff_id: int | None = None
    sale_id: int | None = None
    refund_id: int | None = None
    reason: str = ""


def existing_entry(member_id: int, key: str) -> PointsEntry | None:
    return PointsEntry.objects.filter(member_id=member_id, idempotency_key=key).first()


def _entry(account: PointsAccount, kind: str, points: int, key: str, ctx: EntryContext, debt: int = 0) -> PointsEntry:
    return PointsEntry.objects.create(
        member_id=account.pk,
        kind=kind,
        points=points,
        debt=debt,
        idempotency_key=key,
        store_id=ctx.store_id,
        staff_id=ctx.staff_id,
        sale_id=ctx.sale_id,
        refund_id=ctx.refund_id,
        reason=ctx.reason[:255],
    )


def _save_account(account: PointsAccount) -> None:
    account.save(update_fields=["available", "pending", "debt", "lifetime_earned", "updated_at"])


def credit(
    account: PointsAccount,
    *,
    points: int,
    kind: str,
    key: str,
    ctx: EntryContext,
    now: datetime | None = None,
    policy: LoyaltySettings | None = None,
    pending: bool = True,
    counts_as_earned: bool = True,
) -> PointsEntry:
    """Add points as a new lot (earn, behaviour, positive adjustment, opening balance).

    Outstanding debt is settled first, out of the new lot, and recorded as its own entry.
    """
    if points <= 0:
        raise ValueError("credit() takes a positive amount")
    now = now or timezone.now()
    policy = policy or LoyaltySettings.current()
    entry = _entry(account, kind, points, key, ctx)
    settle = min(points, account.debt)
    spendable_at = available_from(now, policy) if pending else now
    is_pending = spendable_at > now
    lot = PointsLot.objects.create(
        member_id=account.pk,
        entry=entry,
        points=points,
        remaining=points - settle,
        available_at=spendable_at,
        expires_at=expiry_for(now, policy),
        is_pending=is_pending and points > settle,
    )
    if settle:
        settlement = _entry(account, PointsEntry.Kind.DEBT_SETTLEMENT, -settle, f"{key}:settle", ctx, debt=-settle)
        PointsAllocation.objects.create(entry=settlement, lot=lot, points=-settle)
        account.debt -= settle
    if lot.is_pending:
        account.pending += points - settle
    else:
        account.available += points - settle
    if counts_as_earned:
        account.lifetime_earned += points
    _save_account(account)
    return entry


def _take_from_lots(lots: list[PointsLot], wanted: int) -> list[tuple[PointsLot, int]]:
    taken = []
    for lot in lots:
        if wanted == 0:
            break
        part = min(lot.remaining, wanted)
        if part:
            lot.remaining -= part
            wanted -= part
            taken.append((lot, part))
    return taken


def _spendable_lots(member_id: int, *, now: datetime, exclude: set[int] = frozenset()):
    """Open, unlocked, unexpired lots, soonest-expiring first, fetched in small batches."""
    qs = (
        PointsLot.objects.filter(member_id=member_id, remaining__gt=0, is_pending=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .exclude(pk__in=exclude)
        # Lots that never expire go last on every database (SQLite sorts NULL first by default).
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    offset = 0
    while True:
        batch = list(qs[offset : offset + _LOT_BATCH])
        if not batch:
            return
        yield from batch
        offset += _LOT_BATCH


def _record_allocations(entry: PointsEntry, taken: list[tuple[PointsLot, int]], sign: int) -> None:
    if not taken:
        return
    PointsLot.objects.bulk_update([lot for lot, _part in taken], ["remaining"])
    PointsAllocation.objects.bulk_create(
        [PointsAllocation(entry=entry, lot=lot, points=sign * part) for lot, part in taken]
    )


def debit(
    account: PointsAccount,
    *,
    points: int,
    kind: str,
    key: str,
    ctx: EntryContext,
    now: datetime | None = None,
    field: str = "points",
) -> PointsEntry:
    """Spend available points from the soonest-expiring lots (redeem, negative adjustment)."""
    if points <= 0:
        raise ValueError("debit() takes a positive amount")
    if points > account.available:
        raise ValidationError(
            {
                field: ValidationError(
                    _("Not enough points: %(available)d available, %(wanted)d asked."),
                    code="insufficient_points",
                    params={"available": account.available, "wanted": points},
                )
            }
        )
    now = now or timezone.now()
    taken = []
    wanted = points
    batch: list[PointsLot] = []
    for lot in _spendable_lots(account.pk, now=now):
        batch.append(lot)
        if sum(lot.remaining for lot in batch) >= wanted:
            break
    taken = _take_from_lots(batch, wanted)
    if sum(part for _lot, part in taken) != points:
        # The cached balance says yes but the lots say no: an expired lot not yet swept. Refuse
        # rather than break the invariant; the expiry job will bring the balance down.
        raise ValidationError(
            {field: ValidationError(_("Some points have just expired; try again."), code="insufficient_points")}
        )
    entry = _entry(account, kind, -points, key, ctx)
    _record_allocations(entry, taken, sign=-1)
    account.available -= points
    _save_account(account)
    return entry


def clawback(
    account: PointsAccount, *, points: int, key: str, ctx: EntryContext, own_lot_id: int | None, now: datetime
) -> tuple[PointsEntry, int]:
    """Take back points a refunded sale earned: from that sale's lot, then other lots, then debt."""
    taken: list[tuple[PointsLot, int]] = []
    wanted = points
    if own_lot_id is not None:
        own = PointsLot.objects.filter(pk=own_lot_id, remaining__gt=0).first()
        # Taken back even if it has expired but not been swept yet: otherwise the member would lose
        # those points twice, once to the clawback (from other lots or as debt) and once to expiry.
        if own is not None:
            taken += _take_from_lots([own], wanted)
            got = sum(p for _l, p in taken)
            wanted -= got
            if own.is_pending:
                account.pending -= got
            else:
                account.available -= got
    if wanted:
        batch = []
        for lot in _spendable_lots(account.pk, now=now, exclude={own_lot_id} if own_lot_id else set()):
            batch.append(lot)
            if sum(lot.remaining for lot in batch) >= wanted:
                break
        more = _take_from_lots(batch, wanted)
        got = sum(p for _l, p in more)
        account.available -= got
        wanted -= got
        taken += more
    from_lots = points - wanted
    entry = _entry(account, PointsEntry.Kind.CLAWBACK, -from_lots, key, ctx, debt=wanted)
    _record_allocations(entry, taken, sign=-1)
    account.debt += wanted
    _save_account(account)
    return entry, wanted


def restore(
    account: PointsAccount,
    *,
    points: int,
    redeem_entry: PointsEntry,
    key: str,
    ctx: EntryContext,
    kind: str = PointsEntry.Kind.RESTORE,
) -> PointsEntry:
    """Give back redeemed points to the very lots they came from, latest-expiring first.

    What earlier restores of the same redemption gave back is not given twice: for a sale's redemption
    they are the sale's restores; for one without a sale (a points-mall order) they are the entries of
    `kind` whose key starts with the redemption's key and a colon (`mall:12` → `mall:12:cancel`).
    """
    if redeem_entry.sale_id is not None:
        earlier = Q(entry__kind=PointsEntry.Kind.RESTORE, entry__sale_id=redeem_entry.sale_id)
    else:
        if not key.startswith(f"{redeem_entry.idempotency_key}:"):
            raise ValueError("a restore without a sale is keyed under its redemption's key")
        earlier = Q(
            entry__member_id=redeem_entry.member_id,
            entry__kind=kind,
            entry__idempotency_key__startswith=f"{redeem_entry.idempotency_key}:",
        )
    given = dict(
        PointsAllocation.objects.filter(earlier)
        .values("lot_id")
        .annotate(total=Sum("points"))
        .values_list("lot_id", "total")
    )
    allocations = list(
        redeem_entry.allocations.select_related("lot").order_by(F("lot__expires_at").desc(nulls_first=True), "-lot_id")
    )
    wanted = points
    restored: list[tuple[PointsLot, int]] = []
    for allocation in allocations:
        if wanted == 0:
            break
        room = -allocation.points - given.get(allocation.lot_id, 0)
        part = min(room, wanted)
        if part > 0:
            allocation.lot.remaining += part
            restored.append((allocation.lot, part))
            wanted -= part
    if wanted:
        raise ValueError("restore() asked for more points than the redemption took")
    entry = _entry(account, kind, points, key, ctx)
    _record_allocations(entry, restored, sign=1)
    pending_part = sum(part for lot, part in restored if lot.is_pending)
    account.pending += pending_part
    account.available += points - pending_part
    _save_account(account)
    return entry


def expire_lot(account: PointsAccount, lot: PointsLot, *, now: datetime) -> PointsEntry | None:
    """Expire what is left of one lot, once: the caller holds the account lock and the lot is read again under it.

    A refund can give points back to a lot that has already expired (restore() returns them to the
    very lots they came from); that lot then expires a second time, under a key of its own.
    """
    lot = PointsLot.objects.get(pk=lot.pk)
    if lot.remaining == 0 or lot.expires_at is None or lot.expires_at > now:
        return None
    earlier = PointsAllocation.objects.filter(lot=lot, entry__kind=PointsEntry.Kind.EXPIRE).count()
    key = f"expire:lot:{lot.pk}" if not earlier else f"expire:lot:{lot.pk}:{earlier + 1}"
    if existing_entry(account.pk, key):
        return None
    points = lot.remaining
    entry = _entry(account, PointsEntry.Kind.EXPIRE, -points, key, EntryContext(reason="expired"))
    lot.remaining = 0
    _record_allocations(entry, [(lot, points)], sign=-1)
    if lot.is_pending:
        account.pending -= points
    else:
        account.available -= points
    _save_account(account)
    return entry


def unlock_lot(account: PointsAccount, lot: PointsLot, *, now: datetime) -> PointsEntry | None:
    """Move a pending lot's points to available once its return window has passed."""
    updated = PointsLot.objects.filter(pk=lot.pk, is_pending=True, available_at__lte=now).update(is_pending=False)
    if not updated:
        return None
    lot.refresh_from_db(fields=["remaining"])
    entry = _entry(account, PointsEntry.Kind.UNLOCK, 0, f"unlock:lot:{lot.pk}", EntryContext(reason=f"{lot.remaining}"))
    account.pending -= lot.remaining
    account.available += lot.remaining
    _save_account(account)
    return entry
