"""Campaigns' activity for the retention rule (members.retention): points-mall orders."""

from datetime import datetime

from django.db.models import QuerySet

from campaigns.models import MallOrder
from members.retention import register_activity_source


def _ordered(since: datetime) -> QuerySet:
    return MallOrder.objects.filter(created_at__gte=since).values_list("member_id", flat=True)


def register() -> None:
    register_activity_source(_ordered)
