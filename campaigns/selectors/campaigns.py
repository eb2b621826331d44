"""Reads of campaigns: the back office's list and the points boosts checkout asks for."""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignMember, Message, PointsBoost


def campaign_list() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("segment", "coupon_template", "message_template")


def campaign_by_id(pk) -> Campaign | None:
    return campaign_list().filter(pk=pk).first()


def points_boosts_for(*, member, at: datetime) -> list[tuple[Decimal, str]]:
    """loyalty.services.earning's boost source: the member's best boost at `at` (campaign or automation),
    in one query. Overlapping boosts count once, the best: two campaigns' double points are not ×4."""
    if member is None or member.pk is None:
        return []
    best = (
        PointsBoost.objects.filter(Q(member_id=member.pk), starts_at__lte=at, ends_at__gt=at)
        .order_by("-multiplier", "pk")
        .values_list("multiplier", "campaign__name", "automation__name")
        .first()
    )
    if best is None:
        return []
    multiplier, campaign_name, automation_name = best
    label = campaign_name or automation_name or _("points boost")
    return [(Decimal(multiplier), str(label))]


def member_campaigns_received(member_id: int, *, limit: int) -> list[CampaignMember]:
    """The latest campaigns that drew the member, target or holdout (one query)."""
    return list(
        CampaignMember.objects.filter(member_id=member_id)
        .select_related("campaign")
        .order_by("-campaign__starts_at", "-campaign_id")[:limit]
    )


def member_campaign_messages(member_id: int, campaign_ids: list[int]) -> dict[int, list[Message]]:
    """The messages each of these campaigns queued for the member (one query)."""
    found: dict[int, list[Message]] = defaultdict(list)
    rows = Message.objects.filter(member_id=member_id, campaign_id__in=campaign_ids).only(
        "pk", "campaign_id", "channel", "status", "sent_at", "created_at"
    )
    for message in rows.order_by("created_at", "pk"):
        found[message.campaign_id].append(message)
    return found
