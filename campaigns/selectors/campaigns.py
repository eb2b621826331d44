"""Reads of campaigns: the back office's list and the points boosts checkout asks for."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from campaigns.models import Campaign, PointsBoost


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
