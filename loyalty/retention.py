"""Loyalty's activity for the retention rule (members.retention): purchases, top-ups and sign-ins."""

from datetime import datetime

from django.db.models import QuerySet

from loyalty.models import Sale, SignIn, TopUp
from members.retention import register_activity_source


def _bought(since: datetime) -> QuerySet:
    return Sale.objects.filter(created_at__gte=since, member__isnull=False).values_list("member_id", flat=True)


def _topped_up(since: datetime) -> QuerySet:
    return TopUp.objects.filter(created_at__gte=since).values_list("member_id", flat=True)


def _signed_in(since: datetime) -> QuerySet:
    return SignIn.objects.filter(created_at__gte=since).values_list("member_id", flat=True)


def register() -> None:
    for source in (_bought, _topped_up, _signed_in):
        register_activity_source(source)
