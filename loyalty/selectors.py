"""Reads of the loyalty app: balances, ledgers, expiring points. Constant queries per call."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Min, QuerySet, Sum
from django.utils import timezone

from loyalty.models import MemberStats, PointsAccount, PointsEntry, PointsLot, Sale, Wallet, WalletEntry
from loyalty.services.tiers import TierProgress, tier_progress
from members.models import Member


@dataclass
class PointsSummary:
    available: int
    pending: int
    debt: int
    expiring_soon: int
    expiring_at: datetime | None


def member_points_summary(member: Member, *, within_days: int = 30) -> PointsSummary:
    account = PointsAccount.objects.filter(pk=member.pk).first()
    now = timezone.now()
    soon = PointsLot.objects.filter(
        member_id=member.pk, remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days)
    ).aggregate(points=Sum("remaining"), first=Min("expires_at"))
    return PointsSummary(
        available=account.available if account else 0,
        pending=account.pending if account else 0,
        debt=account.debt if account else 0,
        expiring_soon=soon["points"] or 0,
        expiring_at=soon["first"],
    )


def member_wallet_balance(member: Member) -> tuple[Decimal, Decimal]:
    wallet = Wallet.objects.filter(pk=member.pk).first()
    return (wallet.principal, wallet.bonus) if wallet else (Decimal("0.00"), Decimal("0.00"))


def member_tier_progress(member: Member) -> TierProgress:
    stats = MemberStats.objects.filter(pk=member.pk).select_related("tier").first()
    return tier_progress(member.pk, current=stats.tier if stats else None)


def ledger_for_member(member: Member) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(member_id=member.pk).select_related("store", "staff").order_by("-id")


def wallet_ledger_for_member(member: Member) -> QuerySet[WalletEntry]:
    return WalletEntry.objects.filter(member_id=member.pk).select_related("store").order_by("-id")


def sales_for_member(member: Member) -> QuerySet[Sale]:
    return Sale.objects.filter(member=member).select_related("store").order_by("-created_at", "-id")


def members_with_points_expiring(*, within_days: int, now: datetime | None = None) -> QuerySet:
    """(member_id, points, first_expiry) for members whose points expire within N days."""
    now = now or timezone.now()
    return (
        PointsLot.objects.filter(remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days))
        .values("member_id")
        .annotate(points=Sum("remaining"), first_expiry=Min("expires_at"))
        .order_by("first_expiry", "member_id")
    )
