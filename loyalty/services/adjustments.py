"""Manual points adjustments by HQ and store managers: a reason, per-role limits, an audit row."""

from datetime import datetime, time

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Abs
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.models import LoyaltySettings, PointsEntry
from loyalty.services import points as ledger
from loyalty.services.checkout import validate_request_id
from loyalty.services.locks import lock_points_account
from loyalty.services.policy import as_replay
from members.models import Member
from stores.models import Store
from stores.permissions import require_staff_can, staff_access
from stores.roles import Action, Role
from stores.services import audit_record

MAX_ADJUSTMENT = 10_000_000


@transaction.atomic
def points_adjust(
    *, request_id: str, member: Member, points: int, reason: str, actor, store: Store | None = None
) -> PointsEntry:
    """Add (positive) or remove (negative) points by hand. The same request_id again returns the first entry."""
    validate_request_id(request_id)
    key = f"adjust:{request_id}"
    existing = ledger.existing_entry(member.pk, key)
    if existing is not None:
        return _same_adjustment_or_conflict(existing, points)
    require_staff_can(actor, Action.ADJUST_POINTS, store)
    if not reason or not reason.strip():
        raise _error("reason", _("Give a reason for the adjustment."), "reason_required")
    if not isinstance(points, int) or points == 0 or abs(points) > MAX_ADJUSTMENT:
        raise _error("points", _("Enter a whole number of points other than zero."), "invalid_points")
    if member.is_frozen:
        raise _error("member", _("This member is frozen."), "member_frozen")
    account = lock_points_account(member)
    existing = ledger.existing_entry(member.pk, key)
    if existing is not None:
        return _same_adjustment_or_conflict(existing, points)
    if not staff_access(actor).chain_wide:
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
    ctx = ledger.EntryContext(store_id=store.pk if store else None, staff_id=actor.pk, reason=reason.strip())
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
        reason=reason.strip(),
        data={"points": points, "entry": entry.pk, "role": sorted(staff_access(actor).roles) or [Role.HQ_ADMIN.value]},
    )
    return entry


def _same_adjustment_or_conflict(entry: PointsEntry, points: int) -> PointsEntry:
    if entry.points != points:
        raise _error(
            "request_id", _("This request id was already used for a different adjustment."), "request_id_reused"
        )
    return as_replay(entry)
