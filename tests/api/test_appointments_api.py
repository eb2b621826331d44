"""The appointment endpoints: slots, booking, cancelling, no-shows, a member's upcoming appointments."""

from datetime import timedelta

import pytest
from django.utils import timezone

from servicecards.models import Appointment
from tests.api.conftest import rid
from tests.factories import MemberFactory
from tests.factories.servicecards import (
    AppointmentFactory,
    CardProductFactory,
    RoomFactory,
    ServiceFactory,
    member_card,
)
from tests.servicecards.conftest import at, therapist_at


@pytest.fixture
def member(db):
    return MemberFactory()


@pytest.fixture
def day():
    return timezone.localdate() + timedelta(days=7)


@pytest.fixture
def facial(db):
    return ServiceFactory(code="FACIAL", name="面部护理", duration_minutes=60)


@pytest.fixture
def therapist(chain, facial):
    """Works at store A every day 09:00–18:00 and performs the facial."""
    return therapist_at(chain.store_a, [facial])


def booking(chain, member, facial, starts_at, **extra):
    return {
        "request_id": rid(),
        "store": chain.store_a.code,
        "member": member.code,
        "service": facial.code,
        "starts_at": starts_at.isoformat(),
        **extra,
    }


def test_a_cashier_reads_the_free_slots_of_her_store(as_user, chain, facial, therapist, day):
    response = as_user(chain.cashier_a).get(
        f"/api/v1/stores/{chain.store_a.code}/slots/", {"service": facial.code, "day": day.isoformat()}
    )

    assert response.status_code == 200
    first = response.json()[0]
    assert first["staff"] == {"id": therapist.pk, "name": str(therapist)}
    assert first["starts_at"].startswith(f"{day.isoformat()}T09:00:00")
    assert first["ends_at"].startswith(f"{day.isoformat()}T10:00:00")
    assert len(response.json()) == 17


def test_slots_cost_the_same_queries_with_many_staff_and_bookings(
    as_user, chain, member, facial, therapist, day, django_assert_num_queries
):
    client = as_user(chain.cashier_a)
    url = f"/api/v1/stores/{chain.store_a.code}/slots/"
    for hour in (9, 12, 15):
        staff = therapist_at(chain.store_a, [facial])
        AppointmentFactory(store=chain.store_a, member=member, service=facial, staff=staff, starts_at=at(day, hour))

    # store, the caller's roles and stores (2), the service, staff with hours (2), the bookings
    with django_assert_num_queries(7):
        response = client.get(url, {"service": facial.code, "day": day.isoformat()})

    assert response.status_code == 200


def test_another_stores_cashier_cannot_read_its_slots(as_user, chain, facial, therapist, day):
    response = as_user(chain.cashier_b).get(
        f"/api/v1/stores/{chain.store_a.code}/slots/", {"service": facial.code, "day": day.isoformat()}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ({"service": "NOPE", "day": "2030-01-01"}, 404, "service_not_found", "service"),
        ({"service": "FACIAL", "day": "tomorrow"}, 400, "invalid", "day"),
        ({"day": "2030-01-01"}, 400, "required", "service"),
        ({"service": "FACIAL", "day": "2030-01-01", "staff": "99999"}, 404, "staff_not_found", "staff"),
    ],
)
def test_slots_with_bad_input_answer_the_error_shape(as_user, chain, facial, query, status, code, field):
    response = as_user(chain.cashier_a).get(f"/api/v1/stores/{chain.store_a.code}/slots/", query)

    assert response.status_code == status
    assert response.json() == {"code": code, "message": response.json()["message"], "field": field}


def test_booking_answers_the_appointment_and_again_the_same_one(as_user, chain, member, facial, therapist, day):
    client = as_user(chain.cashier_a)
    card = member_card(member, product=CardProductFactory(services=[facial]), store=chain.store_a)
    room = RoomFactory(store=chain.store_a)
    body = booking(chain, member, facial, at(day, 10), staff=therapist.pk, room=room.pk, card=card.code)

    first = client.post("/api/v1/appointments/", body, format="json")
    again = client.post("/api/v1/appointments/", body, format="json")

    assert first.status_code == 201, first.json()
    answer = first.json()
    assert answer["member"] == member.code and answer["service"] == "FACIAL"
    assert answer["staff"]["id"] == therapist.pk and answer["room"] == {"id": room.pk, "name": room.name}
    assert answer["card"] == card.code and answer["status"] == "booked" and answer["channel"] == "api"
    assert again.status_code == 200 and again.json()["id"] == answer["id"]


def test_booking_a_taken_slot_is_400_slot_taken(as_user, chain, member, facial, therapist, day):
    client = as_user(chain.cashier_a)
    client.post("/api/v1/appointments/", booking(chain, member, facial, at(day, 10)), format="json")

    response = client.post(
        "/api/v1/appointments/",
        booking(chain, MemberFactory(), facial, at(day, 10, 30), staff=therapist.pk),
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "slot_taken" and response.json()["field"] == "staff"


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"service": "NOPE"}, 404, "service_not_found", "service"),
        ({"member": "9000000000"}, 404, "member_not_found", "member"),
        ({"store": "XX999"}, 404, "store_not_found", "store"),
        ({"card": "NOPE"}, 404, "card_not_found", "card"),
        ({"room": 999999}, 404, "room_not_found", "room"),
        ({"starts_at": "2020-01-01T10:00:00+08:00"}, 400, "in_the_past", "starts_at"),
        ({"starts_at": "soon"}, 400, "invalid", "starts_at"),
        ({"request_id": "x"}, 400, "invalid_request_id", "request_id"),
        ({"channel": "carrier-pigeon"}, 400, "invalid_choice", "channel"),
    ],
)
def test_booking_with_bad_input_answers_the_error_shape_and_books_nothing(
    as_user, chain, member, facial, therapist, day, change, status, code, field
):
    response = as_user(chain.cashier_a).post(
        "/api/v1/appointments/", {**booking(chain, member, facial, at(day, 10)), **change}, format="json"
    )

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (status, code, field)
    assert not Appointment.objects.exists()


def test_a_cashier_of_store_b_cannot_book_cancel_or_mark_store_as_appointments(
    as_user, chain, member, facial, therapist, day
):
    booked = AppointmentFactory(
        store=chain.store_a,
        member=member,
        service=facial,
        staff=therapist,
        starts_at=timezone.now() - timedelta(hours=1),
    )
    client = as_user(chain.cashier_b)

    assert (
        client.post("/api/v1/appointments/", booking(chain, member, facial, at(day, 10)), format="json").status_code
        == 403
    )
    assert client.post(f"/api/v1/appointments/{booked.pk}/cancel/", {}, format="json").status_code == 403
    assert client.post(f"/api/v1/appointments/{booked.pk}/no-show/", {}, format="json").status_code == 403
    assert client.get(f"/api/v1/members/{member.code}/appointments/").json() == []
    booked.refresh_from_db()
    assert booked.status == "booked"


def test_cancel_and_no_show_close_the_appointment_once(as_user, chain, member, facial, therapist, day):
    client = as_user(chain.cashier_a)
    later = AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 10)
    )
    started = AppointmentFactory(
        store=chain.store_a,
        member=member,
        service=facial,
        staff=therapist,
        starts_at=timezone.now() - timedelta(hours=1),
    )

    cancelled = client.post(f"/api/v1/appointments/{later.pk}/cancel/", {"reason": "改期"}, format="json")
    missed = client.post(f"/api/v1/appointments/{started.pk}/no-show/", format="json")
    twice = client.post(f"/api/v1/appointments/{later.pk}/cancel/", {}, format="json")
    unknown = client.post("/api/v1/appointments/999999/cancel/", {}, format="json")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert missed.status_code == 200 and missed.json()["status"] == "no_show"
    assert twice.status_code == 400 and twice.json()["code"] == "appointment_not_booked"
    assert unknown.status_code == 404 and unknown.json()["code"] == "appointment_not_found"


def test_a_members_upcoming_appointments_at_the_callers_stores(as_user, chain, member, facial, therapist, day):
    at_a = AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=at(day, 10)
    )
    elsewhere = therapist_at(chain.store_b, [facial])
    at_b = AppointmentFactory(
        store=chain.store_b, member=member, service=facial, staff=elsewhere, starts_at=at(day, 10)
    )

    mine = as_user(chain.cashier_a).get(f"/api/v1/members/{member.code}/appointments/")
    everything = as_user(chain.hq_admin).get(f"/api/v1/members/{member.code}/appointments/")

    assert [row["id"] for row in mine.json()] == [at_a.pk]
    assert [row["id"] for row in everything.json()] == [at_a.pk, at_b.pk]


def test_a_marketer_may_not_read_a_members_appointments_nor_a_phone_stand_in_for_the_code(as_user, chain, member):
    assert as_user(chain.marketer).get(f"/api/v1/members/{member.code}/appointments/").status_code == 403
    response = as_user(chain.cashier_a).get("/api/v1/members/13800138000/appointments/")
    assert response.status_code == 400 and response.json()["code"] == "phone_in_path"


def test_the_endpoints_are_in_the_schema(as_user, chain):
    schema = as_user(chain.hq_admin).get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()

    for path in (
        "/api/v1/stores/{code}/slots/",
        "/api/v1/appointments/",
        "/api/v1/appointments/{appointment_id}/cancel/",
    ):
        assert path in schema
