"""Two tablets booking the same slot at the same moment, each on its own thread and connection
(PostgreSQL only: SQLite serialises writers)."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from servicecards.models import Appointment
from servicecards.services.appointments import appointment_book, appointment_cancel
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.servicecards.conftest import at, rid, therapist_at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def race(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not finish"
    return results


def outcome(result) -> str:
    if isinstance(result, ValidationError):
        if hasattr(result, "error_dict"):
            return next(iter(result.error_dict.values()))[0].code
        return result.error_list[0].code
    if isinstance(result, Exception):
        return f"{type(result).__name__}: {result}"
    return "ok"


def test_two_tablets_booking_one_therapist_at_once_make_one_appointment(chain, facial, therapist, day):
    members = [MemberFactory(), MemberFactory()]

    results = race(
        2,
        lambda i: appointment_book(
            request_id=rid(),
            store=chain.store_a,
            actor=[chain.cashier_a, chain.manager_a][i],
            member=members[i],
            service=facial,
            starts_at=at(day, 10, 15 * i),
            staff=therapist,
        ),
    )

    assert sorted(outcome(r) for r in results) == ["ok", "slot_taken"]
    assert Appointment.objects.filter(staff=therapist, status="booked").count() == 1


def test_two_tablets_booking_any_staff_at_once_get_the_two_therapists(chain, facial, therapist, day):
    second = therapist_at(chain.store_a, [facial])
    members = [MemberFactory(), MemberFactory(), MemberFactory()]

    results = race(
        3,
        lambda i: appointment_book(
            request_id=rid(),
            store=chain.store_a,
            actor=chain.cashier_a,
            member=members[i],
            service=facial,
            starts_at=at(day, 10),
        ),
    )

    assert sorted(outcome(r) for r in results) == ["ok", "ok", "slot_taken"]
    assert set(Appointment.objects.values_list("staff", flat=True)) == {therapist.pk, second.pk}


def test_one_request_sent_twice_at_once_makes_one_appointment(chain, facial, therapist, day):
    member = MemberFactory()

    results = race(
        2,
        lambda i: appointment_book(
            request_id="tablet-retry-0001",
            store=chain.store_a,
            actor=chain.cashier_a,
            member=member,
            service=facial,
            starts_at=at(day, 10),
            staff=therapist,
        ),
    )

    assert [outcome(r) for r in results] == ["ok", "ok"]
    assert results[0].pk == results[1].pk
    assert Appointment.objects.count() == 1


def test_two_tablets_cancelling_at_once_close_it_once(chain, facial, therapist, day):
    booked = appointment_book(
        request_id=rid(),
        store=chain.store_a,
        actor=chain.cashier_a,
        member=MemberFactory(),
        service=facial,
        starts_at=at(day, 10),
        staff=therapist,
    )

    results = race(2, lambda i: appointment_cancel(appointment=booked, actor=chain.cashier_a))

    assert sorted(outcome(r) for r in results) == ["appointment_not_booked", "ok"]
    assert AuditEntry.objects.filter(action="appointment.cancelled").count() == 1
