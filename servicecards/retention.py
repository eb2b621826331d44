"""Service cards' activity for the retention rule (members.retention): card uses and bookings."""

from datetime import datetime

from django.db.models import QuerySet

from members.retention import register_activity_source
from servicecards.models import Appointment, CardEntry


def _used_a_card(since: datetime) -> QuerySet:
    return CardEntry.objects.filter(created_at__gte=since, kind=CardEntry.Kind.USE).values_list("member_id", flat=True)


def _booked(since: datetime) -> QuerySet:
    return Appointment.objects.filter(created_at__gte=since).values_list("member_id", flat=True)


def register() -> None:
    for source in (_used_a_card, _booked):
        register_activity_source(source)
