"""Booking an appointment: who, when, where, with which card; refused plainly otherwise."""

from datetime import UTC, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from servicecards.models import Appointment, CardSettings
from servicecards.services.appointments import appointment_book
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.servicecards import CardProductFactory, RoomFactory, ServiceFactory, member_card
from tests.servicecards.conftest import at, rid, therapist_at


@pytest.fixture
def member(db):
    return MemberFactory()


def book(chain, member, facial, starts_at, *, actor=None, store=None, request_id=None, **extra):
    return appointment_book(
        request_id=request_id or rid(),
        store=store or chain.store_a,
        actor=actor or chain.cashier_a,
        member=member,
        service=facial,
        starts_at=starts_at,
        **extra,
    )


def code_of(caught) -> tuple[str, str | None]:
    error = caught.value
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        return errors[0].code, field
    return error.error_list[0].code, None


def test_a_cashier_books_a_facial_with_a_therapist_for_the_services_length(chain, member, facial, therapist, day):
    appointment = book(chain, member, facial, at(day, 10), staff=therapist, note="  敏感肌 ")

    assert appointment.staff == therapist
    assert appointment.ends_at == at(day, 11)
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment.booked_by == chain.cashier_a
    assert appointment.note == "敏感肌"
    assert AuditEntry.objects.filter(action="appointment.booked").count() == 1


def test_any_staff_takes_the_first_free_one_who_performs_the_service_and_works_then(
    chain, member, facial, therapist, day
):
    second = therapist_at(chain.store_a, [facial])
    therapist_at(chain.store_b, [facial])  # works elsewhere
    therapist_at(chain.store_a, [ServiceFactory(code="HAIR")])  # does something else
    book(chain, member, facial, at(day, 10), staff=therapist)

    appointment = book(chain, member, facial, at(day, 10, 30))

    assert appointment.staff == second


def test_any_staff_when_nobody_is_free_says_the_slot_is_taken(chain, member, facial, therapist, day):
    book(chain, member, facial, at(day, 10))

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10, 30))

    assert code_of(caught) == ("slot_taken", "starts_at")


def test_the_same_staff_member_twice_at_once_is_slot_taken_on_staff(chain, member, facial, therapist, day):
    book(chain, member, facial, at(day, 10), staff=therapist)

    with pytest.raises(ValidationError) as caught:
        book(chain, MemberFactory(), facial, at(day, 10, 45), staff=therapist)

    assert code_of(caught) == ("slot_taken", "staff")
    assert Appointment.objects.count() == 1


def test_the_same_room_twice_at_once_is_slot_taken_on_room(chain, member, facial, therapist, day, room_a):
    other = therapist_at(chain.store_a, [facial])
    book(chain, member, facial, at(day, 10), staff=therapist, room=room_a)

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=other, room=room_a)

    assert code_of(caught) == ("slot_taken", "room")


def test_the_same_request_again_answers_the_first_appointment(chain, member, facial, therapist, day):
    first = book(chain, member, facial, at(day, 10), request_id="booking-0001")

    again = book(chain, member, facial, at(day, 10), request_id="booking-0001")

    assert again.pk == first.pk and again.replayed
    assert Appointment.objects.count() == 1


def test_the_same_request_id_for_another_time_is_refused(chain, member, facial, therapist, day):
    book(chain, member, facial, at(day, 10), request_id="booking-0002")

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 14), request_id="booking-0002")

    assert code_of(caught) == ("request_id_reused", "request_id")


def test_a_replay_answers_nobody_who_could_not_have_booked_it(chain, member, facial, therapist, day):
    book(chain, member, facial, at(day, 10), request_id="booking-0003")

    with pytest.raises(PermissionDenied):
        book(chain, member, facial, at(day, 10), request_id="booking-0003", actor=chain.cashier_b)


@pytest.mark.parametrize(
    ("starts", "code"),
    [
        ((8, 30), "staff_not_working"),  # before the shift
        ((17, 30), "staff_not_working"),  # runs past its end
    ],
)
def test_a_staff_member_is_booked_only_within_their_working_hours(chain, member, facial, therapist, day, starts, code):
    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, *starts), staff=therapist)

    assert code_of(caught) == (code, "staff")


def test_a_staff_member_is_booked_only_at_a_store_they_work_at(chain, member, facial, therapist, day):
    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=therapist, store=chain.store_b, actor=chain.hq_admin)

    assert code_of(caught) == ("staff_not_working", "staff")


def test_working_hours_are_read_in_china_time_on_the_right_weekday(chain, member, facial, day):
    # Works only on `day`'s weekday, 08:00–09:00 China time (00:00–01:00 UTC).
    early = therapist_at(chain.store_a, [facial], weekdays=[day.weekday()], starts=time(8), ends=time(9))

    in_utc = at(day, 8).astimezone(UTC)
    assert in_utc.hour == 0

    appointment = book(chain, member, facial, in_utc, staff=early)

    assert appointment.staff == early
    with pytest.raises(ValidationError):
        book(chain, member, facial, at(day + timedelta(days=1), 8), staff=early)


def test_a_staff_member_who_does_not_perform_the_service_is_refused(chain, member, facial, day):
    stylist = therapist_at(chain.store_a, [ServiceFactory(code="HAIR")])

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=stylist)

    assert code_of(caught) == ("staff_not_performing", "staff")


def test_a_time_already_past_is_refused(chain, member, facial, therapist):
    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, timezone.now() - timedelta(minutes=5), staff=therapist)

    assert code_of(caught) == ("in_the_past", "starts_at")


def test_a_frozen_member_cannot_book(chain, member, facial, therapist, day):
    member.status = member.Status.FROZEN

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=therapist)

    assert code_of(caught) == ("member_frozen", "member")


def test_a_room_of_another_store_is_refused(chain, member, facial, therapist, day):
    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=therapist, room=RoomFactory(store=chain.store_b))

    assert code_of(caught) == ("room_not_at_store", "room")


def test_a_card_of_another_member_is_refused(chain, member, facial, therapist, day):
    card = member_card(MemberFactory(), product=CardProductFactory(services=[facial]), store=chain.store_a)

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=therapist, card=card)

    assert code_of(caught) == ("card_not_members", "card")


def test_a_card_not_for_the_service_is_refused(chain, member, facial, therapist, day):
    card = member_card(member, product=CardProductFactory(services=[ServiceFactory(code="HAIR")]), store=chain.store_a)

    with pytest.raises(ValidationError) as caught:
        book(chain, member, facial, at(day, 10), staff=therapist, card=card)

    assert code_of(caught) == ("card_not_usable", "card")


def test_the_members_card_for_the_service_is_booked_with_it(chain, member, facial, therapist, day):
    card = member_card(member, product=CardProductFactory(services=[facial]), store=chain.store_a)

    appointment = book(chain, member, facial, at(day, 10), staff=therapist, card=card)

    assert appointment.card == card


def test_a_cashier_cannot_book_at_another_store(chain, member, facial, therapist, day):
    with pytest.raises(PermissionDenied):
        book(chain, member, facial, at(day, 10), staff=therapist, actor=chain.cashier_b)

    with pytest.raises(PermissionDenied):
        book(chain, member, facial, at(day, 10), staff=therapist, actor=chain.marketer)
    assert not Appointment.objects.exists()


def test_settings_default_to_no_charge_for_a_no_show(db):
    assert CardSettings.current().no_show_uses == Decimal("0")


def test_the_same_moment_in_another_time_zone_is_the_same_request(chain, member, facial, therapist, day):
    first = book(chain, member, facial, at(day, 10), request_id="booking-0004")

    again = book(chain, member, facial, at(day, 10).astimezone(UTC), request_id="booking-0004")

    assert again.pk == first.pk and again.replayed
