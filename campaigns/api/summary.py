"""The campaigns app's part of the member summary (members.api.summary): the coupons usable now."""

from typing import Any

from campaigns.api.serializers import CouponSummarySerializer
from campaigns.selectors import usable_coupons
from members.api.summary import register_member_summary_section
from members.models import Member


def _fields() -> dict:
    return {
        "coupons": CouponSummarySerializer(
            many=True, help_text="Coupons the member can use now, soonest-expiring first (at most 20)."
        )
    }


def _load(members: list[Member], context: dict) -> dict[int, dict[str, Any]]:
    found = usable_coupons([m.pk for m in members])
    return {m.pk: {"coupons": found.get(m.pk, [])} for m in members}


def register() -> None:
    register_member_summary_section("coupons", fields=_fields, load=_load)
