"""The service-cards app's part of the member summary (members.api.summary): the cards still in play."""

from typing import Any

from members.api.summary import register_member_summary_section
from members.models import Member
from servicecards.api.serializers import MemberCardSummarySerializer
from servicecards.selectors import live_cards


def _fields() -> dict:
    return {
        "cards": MemberCardSummarySerializer(
            many=True,
            help_text="The member's service cards still in play (active or frozen, not expired, uses left), "
            "soonest-expiring first.",
        )
    }


def _load(members: list[Member], context: dict) -> dict[int, dict[str, Any]]:
    found = live_cards([m.pk for m in members])
    return {m.pk: {"cards": found.get(m.pk, [])} for m in members}


def register() -> None:
    register_member_summary_section("cards", fields=_fields, load=_load)
