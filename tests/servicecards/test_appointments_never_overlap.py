"""The database itself refuses a second booking of one member of staff or one room at the same time
(migration 0002: exclusion constraints on PostgreSQL, triggers on SQLite)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from servicecards.models import Appointment
from tests.factories import MemberFactory
from tests.factories.servicecards import AppointmentFactory, RoomFactory
from tests.servicecards.conftest import at
from tests.servicecards.conftest import therapist_at as make_therapist


@pytest.fixture
def member(db):
    return MemberFactory()


def book(chain, member, facial, staff, starts_at, **fields):
    return AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=staff, starts_at=starts_at, **fields
    )


def refused(make) -> str:
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        make()
    return str(caught.value)


def test_two_booked_appointments_of_one_staff_member_cannot_overlap(chain, member, facial, therapist, day):
    book(chain, member, facial, therapist, at(day, 10))

    message = refused(lambda: book(chain, member, facial, therapist, at(day, 10, 30)))

    assert "appointment_staff_never_overlaps" in message
    assert Appointment.objects.count() == 1


def test_one_ending_as_the_next_starts_does_not_overlap(chain, member, facial, therapist, day):
    book(chain, member, facial, therapist, at(day, 10))
    book(chain, member, facial, therapist, at(day, 11))
    book(chain, member, facial, therapist, at(day, 9))

    assert Appointment.objects.count() == 3


def test_a_done_appointment_still_occupies_its_slot(chain, member, facial, therapist, day):
    book(chain, member, facial, therapist, at(day, 10), status="done", closed_at=at(day, 11))

    assert "appointment_staff_never_overlaps" in refused(
        lambda: book(chain, member, facial, therapist, at(day, 10, 15))
    )


@pytest.mark.parametrize("status", ["cancelled", "no_show"])
def test_a_cancelled_or_missed_appointment_frees_its_slot(chain, member, facial, therapist, day, status):
    book(chain, member, facial, therapist, at(day, 10), status=status, closed_at=at(day, 9))

    book(chain, member, facial, therapist, at(day, 10))

    assert Appointment.objects.filter(status="booked").count() == 1


def test_reopening_a_cancelled_appointment_over_a_new_booking_is_refused(chain, member, facial, therapist, day):
    cancelled = book(chain, member, facial, therapist, at(day, 10), status="cancelled", closed_at=at(day, 9))
    book(chain, member, facial, therapist, at(day, 10, 30))

    def reopen():
        Appointment.objects.filter(pk=cancelled.pk).update(status="booked", closed_at=None)

    assert "appointment_staff_never_overlaps" in refused(reopen)


def test_moving_an_appointment_onto_another_is_refused_but_moving_it_within_its_own_slot_is_not(
    chain, member, facial, therapist, day
):
    first = book(chain, member, facial, therapist, at(day, 10))
    second = book(chain, member, facial, therapist, at(day, 12))

    Appointment.objects.filter(pk=first.pk).update(starts_at=at(day, 10, 15), ends_at=at(day, 11, 15))

    def move():
        Appointment.objects.filter(pk=second.pk).update(starts_at=at(day, 11), ends_at=at(day, 12))

    assert "appointment_staff_never_overlaps" in refused(move)


def test_one_room_cannot_be_booked_twice_at_once_even_with_two_staff(chain, member, facial, therapist, day):
    other = make_therapist(chain.store_a, [facial])
    room = RoomFactory(store=chain.store_a)
    book(chain, member, facial, therapist, at(day, 10), room=room)

    message = refused(lambda: book(chain, member, facial, other, at(day, 10, 30), room=room))

    assert "appointment_room_never_overlaps" in message


def test_two_staff_without_a_room_may_work_at_the_same_time(chain, member, facial, therapist, day):
    other = make_therapist(chain.store_a, [facial])
    book(chain, member, facial, therapist, at(day, 10))
    book(chain, member, facial, other, at(day, 10))
    book(chain, member, facial, other, at(day, 10) + timedelta(hours=1), room=RoomFactory(store=chain.store_a))

    assert Appointment.objects.count() == 3
