"""Reads of the service cards app: a member's cards, what they can use, their service history; free slots,
a day's schedule and a member's bookings. Querysets with what their pages and API answers show, no N+1."""

from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from members.models import Member
from servicecards.models import Appointment, CardEntry, MemberCard, Service, ServiceStaff, WorkingHours
from stores.models import Store


def member_cards(member: Member) -> QuerySet[MemberCard]:
    """Every card of the member, newest first, with what the card page shows."""
    return (
        MemberCard.objects.filter(member=member)
        .select_related("product", "store")
        .prefetch_related("product__services", "product__stores")
        .order_by("-purchased_at", "-id")
    )


def usable_cards(member: Member, *, store: Store, service: Service | None = None) -> QuerySet[MemberCard]:
    """The member's active, unexpired cards with uses left, usable at `store` (and for `service`)."""
    cards = member_cards(member).filter(status=MemberCard.Status.ACTIVE)
    cards = cards.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    cards = cards.filter(Q(uses_remaining__isnull=True) | Q(uses_remaining__gt=0))
    cards = cards.filter(Q(product__stores__isnull=True) | Q(product__stores=store))
    if service is not None:
        cards = cards.filter(product__services=service)
    return cards.distinct()


def card_entries(card: MemberCard) -> QuerySet[CardEntry]:
    return (
        CardEntry.objects.filter(card=card)
        .select_related("store", "service", "performed_by", "recorded_by", "reverses", "reversed_by")
        .order_by("-created_at", "-id")
    )


def service_history(member: Member) -> QuerySet[CardEntry]:
    """服务记录: the member's card uses (what, when, where, by whom, the staff's note), newest first."""
    return (
        CardEntry.objects.filter(member=member, kind=CardEntry.Kind.USE)
        .select_related("card__product", "store", "service", "performed_by")
        .order_by("-created_at", "-id")
    )


# ---------------------------------------------------------------------------------------------------
# Appointments: free slots, a day's schedule, a member's upcoming bookings.
# ---------------------------------------------------------------------------------------------------

OCCUPYING = (Appointment.Status.BOOKED, Appointment.Status.DONE)


def slot_step(service: Service) -> timedelta:
    """Slots start every 30 minutes, or every 15 for a service whose length is not whole half-hours."""
    return timedelta(minutes=30 if service.duration_minutes % 30 == 0 else 15)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def free_slots(
    *, store: Store, service: Service, day: date, staff: ServiceStaff | None = None, now: datetime | None = None
) -> list[tuple[datetime, ServiceStaff]]:
    """Every (start, staff member) at which `service` can be booked at `store` on `day` (China time):
    within the staff member's working hours there, not in the past, overlapping nothing booked or done.
    Sorted by start, then staff id. Three queries, however many staff and appointments."""
    now = now or timezone.now()
    length = timedelta(minutes=service.duration_minutes)
    step = slot_step(service)
    hours = WorkingHours.objects.filter(store=store, weekday=day.weekday())
    performers = ServiceStaff.objects.filter(is_bookable=True, services=service, hours__store=store).distinct()
    if staff is not None:
        performers = performers.filter(pk=staff.pk)
    performers = list(
        performers.select_related("user").prefetch_related(Prefetch("hours", queryset=hours, to_attr="that_day"))
    )
    if not performers:
        return []
    day_start, day_end = _day_bounds(day)
    busy: dict[int, list[tuple[datetime, datetime]]] = {}
    for staff_id, starts_at, ends_at in Appointment.objects.filter(
        staff__in=[p.pk for p in performers], status__in=OCCUPYING, starts_at__lt=day_end, ends_at__gt=day_start
    ).values_list("staff_id", "starts_at", "ends_at"):
        busy.setdefault(staff_id, []).append((starts_at, ends_at))
    slots: list[tuple[datetime, ServiceStaff]] = []
    for performer in performers:
        taken = busy.get(performer.pk, [])
        for shift in performer.that_day:
            start = timezone.make_aware(datetime.combine(day, shift.starts))
            shift_end = timezone.make_aware(datetime.combine(day, shift.ends))
            while start + length <= shift_end:
                end = start + length
                if start > now and not any(b < end and start < e for b, e in taken):
                    slots.append((start, performer))
                start += step
    slots.sort(key=lambda slot: (slot[0], slot[1].pk))
    return slots


def day_schedule(*, store: Store, day: date, staff: ServiceStaff | None = None) -> QuerySet[Appointment]:
    """The appointments at `store` starting on `day` (China time), every status, by start."""
    day_start, day_end = _day_bounds(day)
    rows = Appointment.objects.filter(store=store, starts_at__gte=day_start, starts_at__lt=day_end)
    if staff is not None:
        rows = rows.filter(staff=staff)
    return rows.select_related("member", "service", "staff__user", "room", "card", "store").order_by("starts_at", "id")


def member_upcoming_appointments(member: Member, *, now: datetime | None = None) -> QuerySet[Appointment]:
    """The member's appointments still booked that have not ended, soonest first."""
    return (
        Appointment.objects.filter(member=member, status=Appointment.Status.BOOKED, ends_at__gt=now or timezone.now())
        .select_related("store", "service", "staff__user", "room", "card")
        .order_by("starts_at", "id")
    )


def appointment_by_id(appointment_id: int) -> Appointment | None:
    return (
        Appointment.objects.filter(pk=appointment_id)
        .select_related("store", "member", "service", "staff__user", "room", "card")
        .first()
    )
