"""Free slots, a day's schedule and a member's upcoming appointments."""

from datetime import time, timedelta

import pytest

from servicecards.selectors import day_schedule, free_slots, member_upcoming_appointments
from tests.factories import MemberFactory
from tests.factories.servicecards import AppointmentFactory, ServiceFactory
from tests.servicecards.conftest import at, therapist_at


@pytest.fixture
def member(db):
    return MemberFactory()


def test_free_slots_step_every_half_hour_within_working_hours_minus_bookings(chain, member, facial, therapist, day):
    AppointmentFactory(store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 10))

    starts = [start for start, _staff in free_slots(store=chain.store_a, service=facial, day=day)]

    assert starts[:3] == [at(day, 9), at(day, 11), at(day, 11, 30)]  # 9:30 and 10:00–10:30 overlap the booking
    assert starts[-1] == at(day, 17)  # the last hour of a shift ending at 18:00
    assert len(starts) == 14


def test_a_service_of_45_minutes_steps_every_quarter(chain, day):
    short = ServiceFactory(code="NAILS", duration_minutes=45)
    therapist_at(chain.store_a, [short], starts=time(9), ends=time(10, 30))

    starts = [start for start, _staff in free_slots(store=chain.store_a, service=short, day=day)]

    assert starts == [at(day, 9), at(day, 9, 15), at(day, 9, 30), at(day, 9, 45)]


def test_free_slots_of_two_staff_come_by_time_then_staff_and_can_be_asked_of_one(chain, facial, therapist, day):
    other = therapist_at(chain.store_a, [facial], starts=time(16), ends=time(18))

    slots = free_slots(store=chain.store_a, service=facial, day=day)
    only_other = free_slots(store=chain.store_a, service=facial, day=day, staff=other)

    assert [(s, p.pk) for s, p in slots if s >= at(day, 16)] == [
        (at(day, 16), therapist.pk),
        (at(day, 16), other.pk),
        (at(day, 16, 30), therapist.pk),
        (at(day, 16, 30), other.pk),
        (at(day, 17), therapist.pk),
        (at(day, 17), other.pk),
    ]
    assert [s for s, _p in only_other] == [at(day, 16), at(day, 16, 30), at(day, 17)]


def test_no_slots_at_a_store_where_nobody_performs_the_service(chain, facial, therapist, day):
    assert free_slots(store=chain.store_b, service=facial, day=day) == []


def test_free_slots_take_three_queries_however_many_staff_and_bookings(
    chain, member, facial, therapist, day, django_assert_num_queries
):
    for hour in (9, 11, 13):
        for _ in range(3):
            staff = therapist_at(chain.store_a, [facial])
            AppointmentFactory(store=chain.store_a, member=member, service=facial, staff=staff, starts_at=at(day, hour))

    with django_assert_num_queries(3):
        free_slots(store=chain.store_a, service=facial, day=day)


def test_a_days_schedule_lists_the_stores_appointments_of_that_day(chain, member, facial, therapist, day):
    later = AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 14)
    )
    first = AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 9)
    )
    AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day + timedelta(days=1), 9)
    )

    assert list(day_schedule(store=chain.store_a, day=day)) == [first, later]
    assert list(day_schedule(store=chain.store_b, day=day)) == []


def test_a_members_upcoming_appointments_are_the_booked_ones_soonest_first(chain, member, facial, therapist, day):
    later = AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 14)
    )
    sooner = AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 9)
    )
    AppointmentFactory(
        store=chain.store_a,
        member=member,
        service=facial,
        staff=therapist,
        starts_at=at(day, 11),
        status="cancelled",
        closed_at=at(day, 8),
    )

    assert list(member_upcoming_appointments(member)) == [sooner, later]
