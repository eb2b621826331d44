"""Reads of the service cards app: a member's cards, what they can use, their service history; free slots,
a day's schedule and a member's bookings. Querysets with what their pages and API answers show, no N+1."""

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from loyalty.services.policy import end_of_local_day
from members.models import Member
from servicecards.models import Appointment, CardEntry, CardProduct, MemberCard, Service, ServiceStaff, WorkingHours
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


def live_cards(member_ids: list[int]) -> dict[int, list[MemberCard]]:
    """The members' cards still in play (active or frozen, not expired, uses left), soonest-expiring first,
    by member: three queries for any number of members (one when none has a card)."""
    cards = (
        MemberCard.objects.filter(
            member_id__in=member_ids, status__in=[MemberCard.Status.ACTIVE, MemberCard.Status.FROZEN]
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .filter(Q(uses_remaining__isnull=True) | Q(uses_remaining__gt=0))
        .select_related("product")
        .prefetch_related("product__services", "product__stores")
        .order_by(F("expires_at").asc(nulls_last=True), "-id")
    )
    found: dict[int, list[MemberCard]] = {pk: [] for pk in member_ids}
    for card in cards:
        found[card.member_id].append(card)
    return found


def card_by_code(code: str) -> MemberCard | None:
    """A card by its number (K + 11 digits), with its member and product."""
    code = (code or "").strip()
    if not code or len(code) > 16:
        return None
    return (
        MemberCard.objects.filter(code=code)
        .select_related("member", "product", "store", "sale")
        .prefetch_related("product__services", "product__stores")
        .first()
    )


def card_products_on_sale(*, store: Store | None = None) -> QuerySet[CardProduct]:
    """The card products HQ sells (usable at `store`, when given), with their services."""
    products = CardProduct.objects.filter(is_active=True).prefetch_related("services", "stores")
    if store is not None:
        products = products.filter(Q(stores__isnull=True) | Q(stores=store)).distinct()
    return products.order_by("price", "code")


def store_uses_on(*, store: Store, day) -> QuerySet[CardEntry]:
    """The card uses recorded at `store` on the local `day`, newest first, with whether each was reversed."""
    start = end_of_local_day(day - timedelta(days=1))
    return (
        CardEntry.objects.filter(
            store=store, kind=CardEntry.Kind.USE, created_at__gte=start, created_at__lt=end_of_local_day(day)
        )
        .select_related("card__product", "member", "service", "performed_by", "reversed_by")
        .order_by("-created_at", "-id")
    )


def service_staff_for(*, store: Store, service: Service) -> QuerySet:
    """Active users of service staff who work at `store` and perform `service`."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            service_staff__services=service,
            staff_profile__stores=store,
        )
        .select_related("service_staff")
        .distinct()
        .order_by("first_name", "username")
    )


def service_staff_for_any(*, store: Store, services) -> QuerySet:
    """The service staff who work at `store` and perform any of `services`, as users, by name."""
    return (
        get_user_model()
        .objects.filter(is_active=True, service_staff__services__in=services, staff_profile__stores=store)
        .distinct()
        .order_by("first_name", "last_name", "username")
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
