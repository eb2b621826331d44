"""Manual points adjustments by HQ and store managers: a reason, per-role limits, an audit row.

An adjustment records where it was made: store staff name their store (the tablet's, or `store` in the
API); only HQ adjusts without one, and such an entry is HQ's (the back office or an integration).
"""

from datetime import datetime, time

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import Abs
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import LoyaltySettings, PointsEntry
from loyalty.services import points as ledger
from loyalty.services.idempotency import replay, validate_request_id
from loyalty.services.locks import lock_points_account, lock_staff
from members.models import Member
from stores.models import Store
from stores.permissions import require_staff_can_at, staff_access
from stores.roles import Action, Role
from stores.services import audit_record

MAX_ADJUSTMENT = 10_000_000


def _existing_adjustment(key: str, *, member: Member, points: int, reason: str, store: Store | None, actor):
    # Unique across members (points_adjust_request_once), so this finds a request id used for anyone.
    entry = (
        PointsEntry.objects.filter(kind=PointsEntry.Kind.ADJUST, idempotency_key=key).select_related("store").first()
    )
    if entry is None:
        return None
    same = (
        entry.member_id == member.pk
        and entry.points == points
        and entry.reason == reason
        and entry.store_id == (store.pk if store else None)
    )
    return replay(
        entry,
        same=same,
        actor=actor,
        action=Action.ADJUST_POINTS,
        store=entry.store,
        message=_("This request id was already used for a different adjustment."),
    )


def points_adjust(
    *, request_id: str, member: Member, points: int, reason: str, actor, store: Store | None = None
) -> PointsEntry:
    """Add (positive) or remove (negative) points by hand. The same request again returns the first entry;
    the same request id for anything else (another member, points, reason or store) is refused."""
    validate_request_id(request_id)
    require_staff_can_at(actor, Action.ADJUST_POINTS, store)
    key = f"adjust:{request_id}"
    reason = (reason or "").strip()
    request = dict(member=member, points=points, reason=reason[:255], store=store, actor=actor)
    existing = _existing_adjustment(key, **request)
    if existing is not None:
        return existing
    if not reason:
        raise _error("reason", _("Give a reason for the adjustment."), "reason_required")
    if not isinstance(points, int) or points == 0 or abs(points) > MAX_ADJUSTMENT:
        raise _error("points", _("Enter a whole number of points other than zero."), "invalid_points")
    if member.is_frozen:
        raise _error("member", _("This member is frozen."), "member_frozen")
    try:
        with transaction.atomic():
            return _adjust(key=key, **request)
    except IntegrityError:
        # The same request id at the same moment, for this member or another: the first one answers.
        existing = _existing_adjustment(key, **request)
        if existing is None:
            raise
        return existing


def _adjust(*, key: str, member: Member, points: int, reason: str, store: Store | None, actor) -> PointsEntry:
    capped = not staff_access(actor).chain_wide
    if capped:
        # The day's total is read under the manager's own row lock (taken before the member's, see
        # loyalty.services.locks): two adjustments by one manager cannot both see room for themselves.
        lock_staff(actor)
    account = lock_points_account(member)
    existing = _existing_adjustment(key, member=member, points=points, reason=reason, store=store, actor=actor)
    if existing is not None:
        return existing
    if capped:
        policy = LoyaltySettings.current()
        if abs(points) > policy.manager_adjust_max_per_operation:
            raise _error(
                "points",
                _("Store managers may adjust at most %(max)d points at a time."),
                "adjustment_limit_exceeded",
                max=policy.manager_adjust_max_per_operation,
            )
        start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
        today = (
            PointsEntry.objects.filter(kind=PointsEntry.Kind.ADJUST, staff=actor, created_at__gte=start).aggregate(
                total=Sum(Abs("points"))
            )["total"]
            or 0
        )
        if today + abs(points) > policy.manager_adjust_max_per_day:
            raise _error(
                "points",
                _("Store managers may adjust at most %(max)d points a day; %(used)d used today."),
                "adjustment_limit_exceeded",
                max=policy.manager_adjust_max_per_day,
                used=today,
            )
    ctx = ledger.EntryContext(store_id=store.pk if store else None, staff_id=actor.pk, reason=reason)
    if points > 0:
        entry = ledger.credit(
            account,
            points=points,
            kind=PointsEntry.Kind.ADJUST,
            key=key,
            ctx=ctx,
            pending=False,
            counts_as_earned=False,
        )
    else:
        entry = ledger.debit(account, points=-points, kind=PointsEntry.Kind.ADJUST, key=key, ctx=ctx)
    audit_record(
        actor=actor,
        action="points.adjusted",
        target=member,
        store=store,
        reason=reason,
        data={"points": points, "entry": entry.pk, "role": sorted(staff_access(actor).roles) or [Role.HQ_ADMIN.value]},
    )
    return entry
