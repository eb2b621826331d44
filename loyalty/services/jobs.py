"""Scheduled points jobs. Each can run twice, or on two workers at once, with one effect:
lots are handled one member at a time under that member's account lock, and each expiry or
unlock entry has a unique idempotency key."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.models import PointsLot
from loyalty.services import points as ledger
from loyalty.services.locks import lock_points_account


def _members_with(lots) -> list[int]:
    return list(lots.order_by("member_id").values_list("member_id", flat=True).distinct())


def points_expire_due(*, now: datetime | None = None, batch_size: int = 500) -> dict[str, int]:
    now = now or timezone.now()
    due = PointsLot.objects.filter(remaining__gt=0, expires_at__lte=now)
    members = expired_points = entries = 0
    for member_id in _members_with(due):
        with transaction.atomic():
            account = lock_points_account(member_id)
            for lot in due.filter(member_id=member_id).order_by("expires_at", "id"):
                entry = ledger.expire_lot(account, lot, now=now)
                if entry is not None:
                    entries += 1
                    expired_points += -entry.points
        members += 1
    return {"members": members, "entries": entries, "points": expired_points}


def points_unlock_due(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    due = PointsLot.objects.filter(is_pending=True, available_at__lte=now)
    unlocked = 0
    for member_id in _members_with(due):
        with transaction.atomic():
            account = lock_points_account(member_id)
            for lot in due.filter(member_id=member_id).order_by("id"):
                if ledger.unlock_lot(account, lot, now=now) is not None:
                    unlocked += 1
    return {"lots": unlocked}
