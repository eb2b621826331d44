"""Reminders through the outbox: the day before an appointment, and "time for your next treatment"."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from campaigns.models import Message
from campaigns.services.service_reminders import (
    APPOINTMENT_TEMPLATE,
    NEXT_VISIT_TEMPLATE,
    appointment_reminders_queue,
    next_visit_reminders_queue,
)
from campaigns.tasks import queue_service_reminders
from servicecards.models import Appointment, CardEntry
from tests.factories import MemberFactory
from tests.factories.servicecards import AppointmentFactory, CardProductFactory, member_card
from tests.servicecards.conftest import at

NOON = time(12)


def local(day, moment=NOON):
    return timezone.make_aware(datetime.combine(day, moment))


@pytest.fixture
def member(db):
    return MemberFactory(name="王芳", marketing_consent=True)


def appointment_on(chain, member, facial, therapist, starts_at, **fields):
    return AppointmentFactory(
        store=chain.store_a, member=member, service=facial, staff=therapist, starts_at=starts_at, **fields
    )


def test_tomorrows_appointments_are_reminded_once_in_the_chains_language(chain, member, facial, therapist):
    today = timezone.localdate()
    now = local(today)
    tomorrow = appointment_on(chain, member, facial, therapist, at(today + timedelta(days=1), 10))
    appointment_on(chain, member, facial, therapist, at(today + timedelta(days=2), 10))  # not yet
    cancelled = appointment_on(
        chain, MemberFactory(), facial, therapist, at(today + timedelta(days=1), 14), status="cancelled", closed_at=now
    )

    first = appointment_reminders_queue(now=now)
    again = appointment_reminders_queue(now=now)

    assert first == {"queued": 1} and again == {"queued": 0}
    message = Message.objects.get()
    assert message.key == f"appointment:{tomorrow.pk}:reminder"
    assert message.template.name == APPOINTMENT_TEMPLATE
    assert "面部护理" in message.body and "上海徐汇店" in message.body and "10:00" in message.body
    assert message.purpose != Message.Purpose.MARKETING
    tomorrow.refresh_from_db()
    assert tomorrow.reminded_at == now
    assert Appointment.objects.get(pk=cancelled.pk).reminded_at is None


def test_an_appointment_reminder_needs_no_marketing_consent(chain, facial, therapist):
    today = timezone.localdate()
    unconsenting = MemberFactory(marketing_consent=False)
    appointment_on(chain, unconsenting, facial, therapist, at(today + timedelta(days=1), 10))

    appointment_reminders_queue(now=local(today))

    assert Message.objects.get().status == Message.Status.QUEUED


def test_a_reminder_queued_in_the_quiet_hours_waits_for_the_morning(chain, member, facial, therapist):
    today = timezone.localdate()
    late_evening = local(today, time(22, 30))
    appointment_on(chain, member, facial, therapist, at(today + timedelta(days=1), 10))

    appointment_reminders_queue(now=late_evening)

    assert Message.objects.get().send_after == local(today + timedelta(days=1), time(9))


def used(card, facial, chain, when):
    entry = CardEntry.objects.create(
        card=card,
        member=card.member,
        kind=CardEntry.Kind.USE,
        uses=Decimal("-1"),
        store=chain.store_a,
        recorded_by=chain.cashier_a,
        service=facial,
    )
    CardEntry.objects.filter(pk=entry.pk).update(created_at=when)
    return entry


@pytest.fixture
def monthly_facial(facial):
    facial.next_visit_days = 28
    facial.save()
    return facial


def test_next_visit_is_suggested_n_days_after_the_last_use(chain, member, monthly_facial, therapist):
    today = timezone.localdate()
    card = member_card(member, product=CardProductFactory(services=[monthly_facial]), store=chain.store_a)
    use = used(card, monthly_facial, chain, local(today - timedelta(days=28), time(15)))

    first = next_visit_reminders_queue(now=local(today))
    again = next_visit_reminders_queue(now=local(today))

    assert first == {"queued": 1} and again == {"queued": 0}
    message = Message.objects.get()
    assert message.key == f"next-visit:{use.pk}" and message.template.name == NEXT_VISIT_TEMPLATE
    assert message.purpose == Message.Purpose.MARKETING and "面部护理" in message.body


def test_no_next_visit_reminder_after_a_later_use_or_booking_or_too_early(chain, member, monthly_facial, therapist):
    today = timezone.localdate()
    card = member_card(member, product=CardProductFactory(services=[monthly_facial]), store=chain.store_a)
    used(card, monthly_facial, chain, local(today - timedelta(days=28)))
    used(card, monthly_facial, chain, local(today - timedelta(days=10)))  # came again since
    booked = MemberFactory(marketing_consent=True)
    booked_card = member_card(booked, product=CardProductFactory(services=[monthly_facial]), store=chain.store_a)
    used(booked_card, monthly_facial, chain, local(today - timedelta(days=28)))
    appointment_on(chain, booked, monthly_facial, therapist, at(today + timedelta(days=3), 10))
    recent = MemberFactory(marketing_consent=True)
    recent_card = member_card(recent, product=CardProductFactory(services=[monthly_facial]), store=chain.store_a)
    used(recent_card, monthly_facial, chain, local(today - timedelta(days=20)))

    assert next_visit_reminders_queue(now=local(today)) == {"queued": 0}
    assert not Message.objects.exists()


def test_a_next_visit_reminder_respects_consent_as_every_marketing_message(chain, monthly_facial):
    today = timezone.localdate()
    unconsenting = MemberFactory(marketing_consent=False)
    card = member_card(unconsenting, product=CardProductFactory(services=[monthly_facial]), store=chain.store_a)
    used(card, monthly_facial, chain, local(today - timedelta(days=28)))

    next_visit_reminders_queue(now=local(today))

    assert Message.objects.get().status == Message.Status.NO_CONSENT


def test_the_task_runs_both_and_beat_runs_it_daily_at_ten(db):
    assert queue_service_reminders() == {"appointments": {"queued": 0}, "next_visits": {"queued": 0}}
    task = PeriodicTask.objects.select_related("crontab").get(name="campaigns: service reminders")
    assert task.task == "campaigns.tasks.queue_service_reminders"
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("10", "0", "Asia/Shanghai")
