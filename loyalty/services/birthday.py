"""Birthday points: each tier's `birthday_points`, paid once a year in the member's birthday month.

A daily job (loyalty.tasks.pay_birthday_points) pays every active member whose birthday month it is
and who has not been paid this year, what their tier gives on the day it pays them: the tier they hold,
or the entry tier (threshold 0) for a member who has not bought yet, as the member summary shows it.
So a member who joins, or reaches a tier that gives birthday points, during their birthday month is
paid by the next day's run; a member paid earlier in the month and upgraded afterwards is not paid the
difference (once a year, at the tier of the day it was paid). A frozen member is passed over while
frozen, and paid by the first run after being unfrozen within the month.

The payment is a ledger entry of its own kind keyed `birthday:<year>` (unique per member), with a lot
that expires as earned points do and no return window. The job can run twice, or on two workers at
once: each member is paid under their points account's lock, after looking for that key again.
"""

from datetime import date, datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from loyalty.models import LoyaltySettings, PointsEntry, Tier
from loyalty.services import points as ledger
from loyalty.services.locks import lock_points_account
from members.models import Member

BATCH = 500


def birthday_key(year: int) -> str:
    return f"birthday:{year}"


def members_due_birthday_points(*, today: date) -> list[tuple[int, int, int]]:
    """(member id, points, tier id) of the active members whose birthday month it is, whose tier gives
    birthday points and who have not had them this year, in member order."""
    tiers = {t.pk: t for t in Tier.objects.filter(birthday_points__gt=0)}
    if not tiers:
        return []
    entry = Tier.objects.filter(threshold=0).order_by("rank").first()
    paid = PointsEntry.objects.filter(member_id=OuterRef("pk"), idempotency_key=birthday_key(today.year))
    tier_of = Q(stats__tier_id__in=list(tiers))
    if entry is not None and entry.pk in tiers:
        tier_of |= Q(stats__isnull=True) | Q(stats__tier__isnull=True)
    rows = (
        Member.objects.filter(tier_of, birth_month=today.month, status=Member.Status.ACTIVE)
        .filter(~Exists(paid))
        .order_by("pk")
        .values_list("pk", "stats__tier_id")
    )
    return [(pk, tiers[tier_id or entry.pk].birthday_points, tier_id or entry.pk) for pk, tier_id in rows]


def points_birthday_pay_due(*, now: datetime | None = None) -> dict[str, int]:
    """Pay this year's birthday points to every member due them today (local day); see the module."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    policy = LoyaltySettings.current()
    key = birthday_key(today.year)
    members = paid = points = 0
    due = members_due_birthday_points(today=today)
    for start in range(0, len(due), BATCH):
        for member_id, amount, tier_id in due[start : start + BATCH]:
            members += 1
            entry = _pay(member_id, amount=amount, tier_id=tier_id, key=key, now=now, policy=policy)
            if entry is not None:
                paid += 1
                points += entry.points
    return {"members": members, "paid": paid, "points": points}


@transaction.atomic
def _pay(member_id: int, *, amount: int, tier_id: int, key: str, now: datetime, policy) -> PointsEntry | None:
    account = lock_points_account(member_id)
    # Under the lock: another run may have paid the member since the list was read, or frozen them.
    if ledger.existing_entry(member_id, key) is not None:
        return None
    status, current = Member.objects.filter(pk=member_id).values_list("status", "stats__tier_id").get()
    if status != Member.Status.ACTIVE:
        return None
    # The tier may have changed since the list was read: pay what the tier held now gives.
    current = current or tier_id
    if current != tier_id:
        amount = Tier.objects.filter(pk=current).values_list("birthday_points", flat=True).first() or 0
        if amount <= 0:
            return None
    return ledger.credit(
        account,
        points=amount,
        kind=PointsEntry.Kind.BIRTHDAY,
        key=key,
        ctx=ledger.EntryContext(reason=f"birthday {key.split(':')[1]}"),
        now=now,
        policy=policy,
        pending=False,
    )
