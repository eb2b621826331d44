"""The service cards' section of the member's 360 page: the member's cards and their service history
(members.member360 explains the registry)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.member360 import RECENT_ROWS, register_section
from members.models import Member
from servicecards.models import CardEntry, MemberCard


def cards_section(member: Member, request) -> dict:
    """The cards, newest first, and the latest service records (two queries whatever the history)."""
    now = timezone.now()
    cards = list(
        MemberCard.objects.filter(member=member)
        .select_related("product", "store")
        .order_by("-purchased_at", "-id")[:RECENT_ROWS]
    )
    history = list(
        CardEntry.objects.filter(member=member, kind=CardEntry.Kind.USE)
        .select_related("card__product", "store", "service", "performed_by", "reversed_by")
        .order_by("-created_at", "-id")[:RECENT_ROWS]
    )
    rows = []
    for card in cards:
        expired = card.expires_at is not None and card.expires_at <= now
        used_up = card.uses_remaining is not None and card.uses_remaining <= 0
        rows.append({"card": card, "expired": expired, "used_up": used_up})
    return {"cards": rows, "history": history, "limit": RECENT_ROWS}


def register() -> None:
    register_section(
        "service_cards",
        order=45,
        title=_("Service cards"),
        template="admin/servicecards/member360/cards.html",
        loader=cards_section,
        wide=True,
    )
