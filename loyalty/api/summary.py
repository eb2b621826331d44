"""The loyalty app's part of the member summary (members.api.summary): tier, progress, points, stored value,
and the tier's benefits an integration applies itself (free shipping, for the online mall and mini-program)."""

from typing import Any

from rest_framework import serializers

from loyalty.api.serializers import (
    MemberPointsSerializer,
    MemberTierSerializer,
    StoredValueSerializer,
    TierProgressSerializer,
)
from loyalty.selectors import StoredValue, member_points_summaries, member_tier_progresses, member_wallet_balances
from members.api.summary import register_member_summary_section
from members.models import Member


def _fields() -> dict:
    return {
        "tier": MemberTierSerializer(allow_null=True),
        "tier_progress": TierProgressSerializer(),
        "points": MemberPointsSerializer(),
        "stored_value": StoredValueSerializer(),
        "free_shipping": serializers.BooleanField(
            help_text="The member's tier ships online orders free: online channels (mall, mini-program) apply it."
        ),
    }


def _load(members: list[Member], context: dict) -> dict[int, dict[str, Any]]:
    ids = [m.pk for m in members]
    points = member_points_summaries(ids)
    wallets = member_wallet_balances(ids)
    tiers = member_tier_progresses(ids)
    return {
        pk: {
            "tier": tiers[pk].tier,
            "tier_progress": tiers[pk],
            "points": points[pk],
            "stored_value": StoredValue(*wallets[pk]),
            "free_shipping": tiers[pk].free_shipping,
        }
        for pk in ids
    }


def register() -> None:
    register_member_summary_section("loyalty", fields=_fields, load=_load)
