"""Closing an appointment: cancelled, missed or done, once; a no-show (or a late cancellation) costs the
booked card what the chain's card settings say."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from servicecards.models import Appointment, CardEntry, CardSettings
from servicecards.services.appointments import (
    appointment_cancel,
    appointment_complete,
    appointment_mark_no_show,
)
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.servicecards import AppointmentFactory, CardProductFactory, member_card
from tests.servicecards.conftest import at


@pytest.fixture
def member(db):
    return MemberFactory()


@pytest.fixture
def no_show_costs_one(db):
    settings = CardSettings.current()
    settings.no_show_uses = Decimal("1")
    settings.free_cancel_hours = 2
    settings.save()
    return settings


@pytest.fixture
def card(chain, member, facial):
    return member_card(member, product=CardProductFactory(services=[facial]), store=chain.store_a)


def appointment(chain, member, facial, therapist, starts_at, **fields):
    return AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=starts_at, **fields
    )


def no_show_entries(card):
    return list(CardEntry.objects.filter(card=card, kind=CardEntry.Kind.NO_SHOW).values_list("uses", flat=True))


def test_cancelling_in_good_time_frees_the_slot_and_costs_nothing(
    chain, member, facial, therapist, day, card, no_show_costs_one
):
    booked = appointment(chain, member, facial, therapist, at(day, 10), card=card)

    cancelled = appointment_cancel(appointment=booked, actor=chain.cashier_a, reason="改期")

    assert cancelled.status == Appointment.Status.CANCELLED and cancelled.closed_at is not None
    assert no_show_entries(card) == []
    assert AuditEntry.objects.get(action="appointment.cancelled").reason == "改期"
    appointment(chain, member, facial, therapist, at(day, 10))  # the slot is free again


def test_cancelling_late_counts_as_a_no_show(chain, member, facial, therapist, card, no_show_costs_one):
    booked = appointment(chain, member, facial, therapist, timezone.now() + timedelta(hours=1), card=card)

    appointment_cancel(appointment=booked, actor=chain.cashier_a)

    assert no_show_entries(card) == [Decimal("-1")]
    card.refresh_from_db()
    assert card.uses_remaining == Decimal("9")


def test_a_no_show_costs_the_booked_card_once(chain, member, facial, therapist, card, no_show_costs_one):
    started = timezone.now() - timedelta(minutes=20)
    booked = appointment(chain, member, facial, therapist, started, card=card)

    missed = appointment_mark_no_show(appointment=booked, actor=chain.cashier_a)

    assert missed.status == Appointment.Status.NO_SHOW
    assert no_show_entries(card) == [Decimal("-1")]
    with pytest.raises(ValidationError) as caught:
        appointment_mark_no_show(appointment=booked, actor=chain.manager_a)
    assert caught.value.error_list[0].code == "appointment_not_booked"
    assert no_show_entries(card) == [Decimal("-1")]


def test_a_no_show_costs_nothing_when_the_settings_say_nothing_or_no_card_was_booked(
    chain, member, facial, therapist, card
):
    started = timezone.now() - timedelta(minutes=20)
    appointment_mark_no_show(
        appointment=appointment(chain, member, facial, therapist, started, card=card), actor=chain.cashier_a
    )

    assert no_show_entries(card) == []


def test_an_appointment_not_yet_started_cannot_be_missed(chain, member, facial, therapist, day):
    booked = appointment(chain, member, facial, therapist, at(day, 10))

    with pytest.raises(ValidationError) as caught:
        appointment_mark_no_show(appointment=booked, actor=chain.cashier_a)

    assert caught.value.error_list[0].code == "not_started"


def test_completing_links_the_card_use_and_closes_it_once(chain, member, facial, therapist, card):
    booked = appointment(chain, member, facial, therapist, timezone.now() - timedelta(hours=1), card=card)
    use = CardEntry.objects.create(
        card=card,
        member=member,
        kind=CardEntry.Kind.USE,
        uses=Decimal("-1"),
        store=chain.store_a,
        recorded_by=chain.cashier_a,
        service=facial,
    )

    done = appointment_complete(appointment=booked, actor=chain.cashier_a, use_entry=use)

    assert done.status == Appointment.Status.DONE and done.use_entry == use
    with pytest.raises(ValidationError):
        appointment_cancel(appointment=booked, actor=chain.cashier_a)


def test_a_use_of_another_members_card_is_not_linked(chain, member, facial, therapist):
    other_card = member_card(MemberFactory(), product=CardProductFactory(services=[facial]), store=chain.store_a)
    use = CardEntry.objects.create(
        card=other_card,
        member=other_card.member,
        kind=CardEntry.Kind.USE,
        uses=Decimal("-1"),
        service=facial,
        store=chain.store_a,
        recorded_by=chain.cashier_a,
    )
    booked = appointment(chain, member, facial, therapist, timezone.now() - timedelta(hours=1))

    with pytest.raises(ValidationError) as caught:
        appointment_complete(appointment=booked, actor=chain.cashier_a, use_entry=use)

    assert caught.value.error_dict["use_entry"][0].code == "use_entry_invalid"


def test_another_stores_cashier_can_neither_cancel_nor_mark_a_no_show(chain, member, facial, therapist, day):
    booked = appointment(chain, member, facial, therapist, at(day, 10))

    for close in (appointment_cancel, appointment_mark_no_show, appointment_complete):
        with pytest.raises(PermissionDenied):
            close(appointment=booked, actor=chain.cashier_b)

    booked.refresh_from_db()
    assert booked.status == Appointment.Status.BOOKED
