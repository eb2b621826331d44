"""Appointments: book, cancel, mark a no-show, complete.

The database never lets one member of staff or one room be booked twice at once (migration 0002: an
exclusion constraint on PostgreSQL, triggers on SQLite). Booking does not check and then insert — two
tablets would both see the slot free — it inserts in a savepoint and turns the database's refusal into
a `slot_taken` error (or, for "any staff", tries the next free member of staff).

Closing an appointment (done, cancelled, no-show) is a conditional UPDATE on status 'booked' whose row
count is checked, so two tablets cannot close it twice (nor charge a no-show twice).
"""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.services.idempotency import payload_hash, replay, validate_request_id
from members.models import Member
from servicecards.models import Appointment, CardEntry, CardSettings, MemberCard, Room, Service, ServiceStaff
from servicecards.services.cards import card_charge_no_show, card_is_usable
from stores.models import Store
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

STAFF_OVERLAP = "appointment_staff_never_overlaps"
ROOM_OVERLAP = "appointment_room_never_overlaps"
CHANNELS = frozenset({"tablet", "api", "mini_program", "phone", "back_office"})


def _slot_taken(field: str):
    if field == "room":
        return _error("room", _("The room is already booked at this time."), "slot_taken")
    return _error("staff", _("This member of staff is already booked at this time."), "slot_taken")


def _overlap_of(exc: IntegrityError) -> str | None:
    text = str(exc)
    if STAFF_OVERLAP in text:
        return "staff"
    if ROOM_OVERLAP in text:
        return "room"
    return None


def staff_working(staff: ServiceStaff, *, store: Store, starts_at: datetime, ends_at: datetime) -> bool:
    """Does `staff` work at `store` for the whole of [starts_at, ends_at), by China-time working hours?"""
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    if start.date() != end.date():
        return False
    return staff.hours.filter(
        store=store, weekday=start.weekday(), starts__lte=start.time(), ends__gte=end.time()
    ).exists()


def _candidates(*, store: Store, service: Service, starts_at: datetime, ends_at: datetime) -> list[ServiceStaff]:
    """Bookable staff who perform `service` and work at `store` then, free by what is already booked;
    in a stable order (by id) so two tablets try them in the same order."""
    start, end = timezone.localtime(starts_at), timezone.localtime(ends_at)
    if start.date() != end.date():
        return []
    busy = Appointment.objects.filter(
        status__in=[Appointment.Status.BOOKED, Appointment.Status.DONE],
        starts_at__lt=ends_at,
        ends_at__gt=starts_at,
    ).values("staff_id")
    return list(
        ServiceStaff.objects.filter(
            is_bookable=True,
            services=service,
            hours__store=store,
            hours__weekday=start.weekday(),
            hours__starts__lte=start.time(),
            hours__ends__gte=end.time(),
        )
        .exclude(pk__in=busy)
        .distinct()
        .order_by("pk")
    )


def _request_of(**request) -> str:
    return payload_hash(**{k: v for k, v in request.items() if k != "actor"})


def _existing_booking(request_id: str, *, digest: str, actor) -> Appointment | None:
    found = Appointment.objects.filter(request_id=request_id).select_related("store").first()
    if found is None:
        return None
    return replay(
        found,
        same=found.payload_hash == digest,
        actor=actor,
        action=Action.BOOK_APPOINTMENT,
        store=found.store,
        message=_("This request id was already used for a different booking."),
    )


def appointment_book(
    *,
    request_id: str,
    store: Store,
    actor,
    member: Member,
    service: Service,
    starts_at: datetime,
    staff: ServiceStaff | None = None,
    room: Room | None = None,
    card: MemberCard | None = None,
    channel: str = "tablet",
    note: str = "",
) -> Appointment:
    """Book `service` for `member` at `store` from `starts_at` for the service's duration, with `staff`
    (None: whoever performs it, works then and is free, in a stable order) and optionally `room` and the
    `card` it will be taken from. The same request again answers the first appointment."""
    validate_request_id(request_id)
    require_staff_can(actor, Action.BOOK_APPOINTMENT, store)
    note = (note or "").strip()[:255]
    digest = _request_of(
        store=store,
        member=member,
        service=service,
        # The same moment however the client wrote its time zone.
        starts_at=starts_at.astimezone(UTC) if timezone.is_aware(starts_at) else starts_at,
        staff=staff,
        room=room,
        card=card,
        channel=channel,
        note=note,
    )
    existing = _existing_booking(request_id, digest=digest, actor=actor)
    if existing is not None:
        return existing
    if timezone.is_naive(starts_at):
        raise _error("starts_at", _("Give the time with its time zone."), "invalid")
    if starts_at <= timezone.now():
        raise _error("starts_at", _("This time has already passed."), "in_the_past")
    if channel not in CHANNELS:
        raise _error("channel", _("Unknown booking channel."), "invalid_choice")
    if member.is_frozen:
        raise _error("member", _("This member is frozen."), "member_frozen")
    if not service.is_active:
        raise _error("service", _("This service is no longer offered."), "service_inactive")
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    if room is not None and (room.store_id != store.pk or not room.is_active):
        raise _error("room", _("This room is not in use at this store."), "room_not_at_store")
    if card is not None:
        if card.member_id != member.pk:
            raise _error("card", _("This card is not the member's."), "card_not_members")
        problem = card_is_usable(card, store=store, service=service, at=starts_at)
        if problem:
            raise _error("card", problem, "card_not_usable")
    if staff is not None:
        if not staff.is_bookable:
            raise _error("staff", _("This member of staff takes no bookings."), "staff_not_bookable")
        if not staff.services.filter(pk=service.pk).exists():
            raise _error("staff", _("This member of staff does not perform this service."), "staff_not_performing")
        if not staff_working(staff, store=store, starts_at=starts_at, ends_at=ends_at):
            raise _error("staff", _("This member of staff does not work at this store then."), "staff_not_working")
        candidates = [staff]
    else:
        candidates = _candidates(store=store, service=service, starts_at=starts_at, ends_at=ends_at)
        if not candidates:
            raise _error("starts_at", _("Nobody who performs this service is free then."), "slot_taken")
    fields = dict(
        request_id=request_id,
        payload_hash=digest,
        store=store,
        member=member,
        service=service,
        room=room,
        card=card,
        starts_at=starts_at,
        ends_at=ends_at,
        channel=channel,
        booked_by=actor,
        note=note,
    )
    with transaction.atomic():
        for candidate in candidates:
            try:
                with transaction.atomic():
                    appointment = Appointment.objects.create(staff=candidate, **fields)
            except IntegrityError as exc:
                overlap = _overlap_of(exc)
                if overlap == "staff" and staff is None:
                    continue  # taken a moment ago by another tablet: the next one
                if overlap is not None:
                    raise _slot_taken(overlap) from exc
                # The same request id at the same moment: the first one answers.
                existing = _existing_booking(request_id, digest=digest, actor=actor)
                if existing is None:
                    raise
                return existing
            audit_record(
                actor=actor,
                action="appointment.booked",
                target=appointment,
                store=store,
                data={"member": member.pk, "staff": candidate.pk, "starts_at": starts_at.isoformat()},
            )
            return appointment
    raise _error("starts_at", _("Nobody who performs this service is free then."), "slot_taken")


def _close(appointment: Appointment, *, status: str, **fields) -> Appointment:
    now = timezone.now()
    updated = Appointment.objects.filter(pk=appointment.pk, status=Appointment.Status.BOOKED).update(
        status=status, closed_at=now, **fields
    )
    if updated != 1:
        raise _error(None, _("This appointment is no longer booked."), "appointment_not_booked")
    appointment.refresh_from_db()
    return appointment


def _charge_no_show(appointment: Appointment, *, actor) -> CardEntry | None:
    uses = CardSettings.current().no_show_uses
    if appointment.card_id is None or uses <= 0:
        return None
    return card_charge_no_show(
        card=appointment.card, store=appointment.store, actor=actor, key=f"no-show:{appointment.pk}", uses=uses
    )


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, actor, reason: str = "") -> Appointment:
    """Cancel a booked appointment. Later than CardSettings.free_cancel_hours before its start it counts
    as a no-show: the booked card is charged CardSettings.no_show_uses (the status says cancelled, which
    is what happened; the card's no-show entry says what it cost)."""
    require_staff_can(actor, Action.BOOK_APPOINTMENT, appointment.store)
    reason = (reason or "").strip()[:255]
    settings = CardSettings.current()
    late = timezone.now() > appointment.starts_at - timedelta(hours=settings.free_cancel_hours)
    appointment = _close(appointment, status=Appointment.Status.CANCELLED)
    entry = _charge_no_show(appointment, actor=actor) if late else None
    audit_record(
        actor=actor,
        action="appointment.cancelled",
        target=appointment,
        store=appointment.store,
        reason=reason,
        data={"late": late, "card_entry": entry.pk if entry else None},
    )
    return appointment


@transaction.atomic
def appointment_mark_no_show(*, appointment: Appointment, actor) -> Appointment:
    """The member did not come: the slot is free again and the booked card pays CardSettings.no_show_uses."""
    require_staff_can(actor, Action.BOOK_APPOINTMENT, appointment.store)
    if appointment.starts_at > timezone.now():
        raise _error(None, _("An appointment that has not started yet cannot be missed."), "not_started")
    appointment = _close(appointment, status=Appointment.Status.NO_SHOW)
    entry = _charge_no_show(appointment, actor=actor)
    audit_record(
        actor=actor,
        action="appointment.no_show",
        target=appointment,
        store=appointment.store,
        data={"card_entry": entry.pk if entry else None},
    )
    return appointment


@transaction.atomic
def appointment_complete(*, appointment: Appointment, actor, use_entry: CardEntry | None = None) -> Appointment:
    """The service was performed: done, with the card use the staff recorded for it, if any."""
    require_staff_can(actor, Action.BOOK_APPOINTMENT, appointment.store)
    if use_entry is not None:
        if use_entry.kind != CardEntry.Kind.USE or use_entry.member_id != appointment.member_id:
            raise _error("use_entry", _("This card use is not the member's use of a card."), "use_entry_invalid")
        if appointment.card_id is not None and use_entry.card_id != appointment.card_id:
            raise _error("use_entry", _("This card use is of another card than the one booked."), "use_entry_invalid")
        if Appointment.objects.filter(use_entry=use_entry).exists():
            raise _error("use_entry", _("This card use is already linked to an appointment."), "use_entry_invalid")
    return _close(appointment, status=Appointment.Status.DONE, use_entry=use_entry)
