"""Loyalty's sections of the member's 360 page: points, tier, stored value and purchases, and the
purchase counts of the referrals section (members.member360 explains the registry)."""

from django.utils.translation import gettext_lazy as _

from loyalty.models import PointsEntry, Sale, TierChange, WalletEntry
from loyalty.selectors import (
    member_360_points,
    member_360_purchases,
    member_360_tier,
    member_360_wallet,
    purchase_counts,
    referred_buyers_count,
)
from members.member360 import RECENT_ROWS, extend_section, may_view, member_changelist_url, register_section
from members.models import Member


def points_section(member: Member, request) -> dict:
    points = member_360_points(member, limit=RECENT_ROWS)
    return {
        "points": points,
        "can_open_sales": may_view(request, Sale),
        "see_all_url": member_changelist_url(request, PointsEntry, member) if points.entries else None,
    }


def tier_section(member: Member, request) -> dict:
    tier = member_360_tier(member, limit=RECENT_ROWS)
    return {
        "tier": tier,
        "see_all_url": member_changelist_url(request, TierChange, member) if tier.changes else None,
    }


def wallet_section(member: Member, request) -> dict:
    wallet, entries = member_360_wallet(member, limit=RECENT_ROWS)
    return {
        "wallet": wallet,
        "entries": entries,
        "can_open_sales": may_view(request, Sale),
        "see_all_url": member_changelist_url(request, WalletEntry, member) if entries else None,
    }


def purchases_section(member: Member, request) -> dict:
    stats, sales = member_360_purchases(member, limit=RECENT_ROWS)
    return {
        "stats": stats,
        "sales": sales,
        "can_open_sales": may_view(request, Sale),
        "see_all_url": member_changelist_url(request, Sale, member) if sales else None,
    }


def referral_purchases(member: Member, request, data: dict) -> dict:
    rows = data.get("referred") or []
    counts = purchase_counts([row["member"].pk for row in rows]) if rows else {}
    return {
        "shows_purchases": True,
        "referred": [{**row, "purchases": counts.get(row["member"].pk, 0)} for row in rows],
        "referred_buyers": referred_buyers_count(member) if data.get("referred_total") else 0,
    }


def register() -> None:
    register_section(
        "points",
        order=20,
        title=_("Points"),
        template="admin/loyalty/member360/points.html",
        loader=points_section,
        wide=True,
    )
    register_section(
        "tier", order=30, title=_("Tier"), template="admin/loyalty/member360/tier.html", loader=tier_section
    )
    register_section(
        "wallet",
        order=35,
        title=_("Stored value"),
        template="admin/loyalty/member360/wallet.html",
        loader=wallet_section,
    )
    register_section(
        "purchases",
        order=60,
        title=_("Purchase history"),
        template="admin/loyalty/member360/purchases.html",
        loader=purchases_section,
        wide=True,
    )
    extend_section("referrals", referral_purchases)
