"""Reminders of service appointments and of the next visit, through the outbox (campaigns sits above
servicecards, so it reads appointments and card uses; servicecards knows nothing of messages).

- The day before an appointment: "明天10:00 面部护理 at 上海徐汇店". A service notice about a booking the member
  made, so it needs no marketing consent (as a mall order's "ready for pick-up"); sent once, marked by
  Appointment.reminded_at and keyed `appointment:<id>:reminder` in the outbox.
- "Time for your next treatment": Service.next_visit_days after a card use of the service, when the member
  has used or booked it no later. An invitation to come back, so marketing: without consent the message is
  written with status no_consent, as every campaign's and automation's. Keyed `next-visit:<use id>`.

Both wait out the quiet hours (21:00–09:00 China time, the default of campaigns.messaging.quiet_hours).
Their texts are the SMS message templates named below: made with a default text in the chain's language
(settings.LANGUAGE_CODE) the first time they are needed, then HQ's to edit. Safe to run twice or on two
workers at once: the outbox's unique key answers the second attempt with the first message.
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns.models import MessageChannel, MessageTemplate
from campaigns.services.messaging import message_queue
from servicecards.models import Appointment, CardEntry, Service

APPOINTMENT_TEMPLATE = "预约提醒"
NEXT_VISIT_TEMPLATE = "护理回访提醒"
QUIET_HOURS = (time(21), time(9))
# A next-visit reminder missed by a day or two (the job did not run) still goes; older ones do not.
NEXT_VISIT_CATCH_UP_DAYS = 2


def _default_text(name: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        if name == APPOINTMENT_TEMPLATE:
            return _(
                "Hello {name}, a reminder of your {service_name} at {appointment_store} at {appointment_time}. "
                "To change it, please call the store."
            )
        return _("Hello {name}, it is time for your next {service_name}. Book your visit at the store.")


def _template(name: str) -> MessageTemplate:
    found = MessageTemplate.objects.filter(name=name).order_by("pk").first()
    if found is None:
        found = MessageTemplate.objects.create(name=name, channel=MessageChannel.SMS, body=_default_text(name))
    return found


def _day_bounds(day) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def appointment_reminders_queue(*, now: datetime | None = None) -> dict[str, int]:
    """Queue a reminder for every appointment booked for tomorrow (China time) not yet reminded."""
    now = now or timezone.now()
    template = _template(APPOINTMENT_TEMPLATE)
    start, end = _day_bounds(timezone.localdate(now) + timedelta(days=1))
    due = Appointment.objects.filter(
        status=Appointment.Status.BOOKED, reminded_at__isnull=True, starts_at__gte=start, starts_at__lt=end
    ).select_related("member", "service", "store", "staff__user")
    queued = 0
    for appointment in due.iterator(chunk_size=200):
        with transaction.atomic():
            claimed = Appointment.objects.filter(pk=appointment.pk, reminded_at__isnull=True).update(reminded_at=now)
            if not claimed:
                continue  # another worker took it
            message_queue(
                member=appointment.member,
                template=template,
                key=f"appointment:{appointment.pk}:reminder",
                context={"appointment": appointment},
                send_after=now,
                quiet_hours=QUIET_HOURS,
                marketing=False,
            )
            queued += 1
    return {"queued": queued}


def next_visit_reminders_queue(*, now: datetime | None = None) -> dict[str, int]:
    """Queue "time for your next treatment" for the last card use of each service with next_visit_days
    that many days ago, when the member has not used or booked that service since."""
    now = now or timezone.now()
    template = _template(NEXT_VISIT_TEMPLATE)
    today = timezone.localdate(now)
    queued = 0
    for service in Service.objects.filter(next_visit_days__isnull=False, is_active=True):
        due_day = today - timedelta(days=service.next_visit_days)
        start, _end = _day_bounds(due_day - timedelta(days=NEXT_VISIT_CATCH_UP_DAYS))
        _start, end = _day_bounds(due_day)
        later_use = CardEntry.objects.filter(
            kind=CardEntry.Kind.USE,
            member_id=OuterRef("member_id"),
            service=service,
            created_at__gt=OuterRef("created_at"),
            reversed_by__isnull=True,
        )
        later_booking = Appointment.objects.filter(
            member_id=OuterRef("member_id"),
            service=service,
            status__in=[Appointment.Status.BOOKED, Appointment.Status.DONE],
            starts_at__gt=OuterRef("created_at"),
        )
        uses = (
            CardEntry.objects.filter(
                kind=CardEntry.Kind.USE,
                service=service,
                created_at__gte=start,
                created_at__lt=end,
                reversed_by__isnull=True,
            )
            .exclude(Exists(later_use))
            .exclude(Exists(later_booking))
            .select_related("member")
            .order_by("pk")
        )
        for use in uses.iterator(chunk_size=200):
            message = message_queue(
                member=use.member,
                template=template,
                key=f"next-visit:{use.pk}",
                context={"service": service},
                send_after=now,
                quiet_hours=QUIET_HOURS,
                marketing=True,
            )
            queued += not getattr(message, "replayed", False)
    return {"queued": queued}


def service_reminders_queue(*, now: datetime | None = None) -> dict[str, dict[str, int]]:
    return {
        "appointments": appointment_reminders_queue(now=now),
        "next_visits": next_visit_reminders_queue(now=now),
    }
