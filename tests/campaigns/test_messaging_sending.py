"""Sending: a worker claims what is due, sends each message once through its channel's backend, records
the outcome, retries temporary failures with backoff up to a limit, and never sends a message twice."""

import json
import logging
from datetime import time, timedelta

import pytest
from django.core import mail
from django_celery_beat.models import PeriodicTask

from campaigns.models import Message, MessageChannel
from campaigns.services.messaging import SENDING_TIMEOUT, _claim, _send_one, messages_send_due
from campaigns.tasks import send_due_messages
from members.services import member_update
from tests.factories.campaigns import MessageFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(consenting, clock):
    return MessageFactory(member=consenting, send_after=clock.now)


def test_a_due_message_is_sent_once_with_the_providers_id(queued, outbox_file):
    # When the sender runs twice
    first, second = messages_send_due(), messages_send_due()
    # Then the message went out once, through the file backend of the embedded mode
    assert (first["sent"], second["sent"]) == (1, 0)
    lines = outbox_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    written = json.loads(lines[0])
    assert written["recipient"] == "+8613800138000"
    assert written["body"] == queued.body
    assert written["reference"] == f"msg-{queued.pk}"
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.provider_id, queued.error) == ("sent", 1, f"msg-{queued.pk}", "")
    assert queued.sent_at is not None and queued.claim_token == ""


def test_a_message_not_due_yet_waits(consenting, clock, fake_provider):
    sent = fake_provider("RecordingBackend")
    MessageFactory(member=consenting, send_after=clock.now + timedelta(minutes=5))
    assert messages_send_due()["sent"] == 0
    clock.advance(minutes=5)
    assert messages_send_due()["sent"] == 1
    assert len(sent) == 1


def test_a_temporary_failure_is_retried_with_backoff_then_fails(queued, clock, settings, fake_provider):
    settings.MESSAGE_MAX_ATTEMPTS = 3
    settings.MESSAGE_RETRY_SECONDS = 60
    attempts = fake_provider("BusyBackend")
    # First attempt fails: it waits a minute
    assert messages_send_due()["retry"] == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.error) == ("queued", 1, "provider busy (503)")
    assert queued.send_after == clock.now + timedelta(minutes=1)
    # Not before
    assert messages_send_due()["retry"] == 0
    # Second attempt a minute later fails: it waits two minutes
    clock.advance(minutes=1)
    assert messages_send_due()["retry"] == 1
    queued.refresh_from_db()
    assert queued.send_after == clock.now + timedelta(minutes=2)
    # The third and last attempt fails: the message has failed
    clock.advance(minutes=2)
    assert messages_send_due()["failed"] == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.error) == ("failed", 3, "provider busy (503)")
    assert len(attempts) == 3
    clock.advance(hours=1)
    assert messages_send_due()["sent"] == messages_send_due()["retry"] == 0


def test_a_permanent_failure_fails_at_once(queued, fake_provider):
    attempts = fake_provider("RejectingBackend")
    assert messages_send_due()["failed"] == 1
    queued.refresh_from_db()
    assert (queued.status, queued.attempts, queued.error) == ("failed", 1, "invalid number")
    messages_send_due()
    assert len(attempts) == 1


def test_a_bug_in_a_backend_counts_as_temporary_and_is_logged(queued, fake_provider, caplog):
    fake_provider("BrokenBackend")
    with caplog.at_level(logging.ERROR, logger="campaigns.services.messaging"):
        assert messages_send_due()["retry"] == 1
    assert "the sms backend raised" in caplog.text
    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("queued", "'access_token'")


def test_a_retry_does_not_fall_into_the_quiet_hours(consenting, clock, fake_provider):
    fake_provider("BusyBackend")
    clock.set(local(2026, 3, 15, 20, 59) + timedelta(seconds=30))
    message = MessageFactory(member=consenting, send_after=clock.now, quiet_start=time(21), quiet_end=time(9))
    messages_send_due()
    message.refresh_from_db()
    assert message.send_after == local(2026, 3, 16, 9, 0)


def test_consent_withdrawn_after_queueing_stops_the_message(chain, queued, consenting, fake_provider):
    sent = fake_provider("RecordingBackend")
    member_update(member=consenting, actor=chain.hq_admin, marketing_consent=False)
    messages_send_due()
    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("no_consent", "Consent withdrawn before sending.")
    assert sent == []


def test_a_service_notice_goes_out_without_consent(unconsenting, clock, fake_provider):
    sent = fake_provider("RecordingBackend")
    MessageFactory(member=unconsenting, purpose=Message.Purpose.SERVICE, send_after=clock.now)
    assert messages_send_due()["sent"] == 1
    assert len(sent) == 1


def test_messages_go_in_batches_until_none_is_due(consenting, clock, fake_provider):
    sent = fake_provider("RecordingBackend")
    for _ in range(25):
        MessageFactory(member=consenting, send_after=clock.now)
    assert messages_send_due(batch_size=10)["sent"] == 25
    assert len({m.id for m in sent}) == 25


# --- a worker that stopped -----------------------------------------------------------------------


def test_what_a_stopped_worker_had_not_attempted_is_sent_by_the_next_and_what_it_was_sending_is_not(
    consenting, clock, fake_provider
):
    sent = fake_provider("RecordingBackend")
    attempted = MessageFactory(member=consenting, send_after=clock.now)
    untouched = MessageFactory(member=consenting, send_after=clock.now)
    # Given a worker that claimed both, marked the first as being sent, and died in the backend call
    _token, claimed = _claim(batch_size=10, now=clock.now)
    assert [m.id for m, _attempts, _quiet in claimed] == [attempted.pk, untouched.pk]
    Message.objects.filter(pk=attempted.pk).update(attempts=1, last_attempt_at=clock.now)
    # Then while the claim is fresh nobody touches them
    assert messages_send_due()["sent"] == 0
    # And once it is stale, the untouched one is sent and the other one fails as "outcome unknown"
    clock.advance(seconds=SENDING_TIMEOUT.total_seconds() + 1)
    summary = messages_send_due()
    assert (summary["requeued"], summary["unknown"], summary["sent"]) == (1, 1, 1)
    assert [m.id for m in sent] == [untouched.pk]
    attempted.refresh_from_db()
    assert attempted.status == "failed"
    assert attempted.error.startswith("Outcome unknown")


def test_a_late_worker_whose_claim_was_given_to_another_sends_nothing(queued, clock, fake_provider):
    sent = fake_provider("RecordingBackend")
    token, [(outgoing, attempts, quiet)] = _claim(batch_size=10, now=clock.now)
    clock.advance(seconds=SENDING_TIMEOUT.total_seconds() + 1)
    assert messages_send_due()["sent"] == 1  # the claim was stale: another run sent it
    assert _send_one(outgoing, token=token, attempts=attempts, quiet=quiet) == "skipped"
    assert len(sent) == 1


# --- the task and its schedule -------------------------------------------------------------------


def test_the_task_sends_due_messages_and_says_what_it_did(queued, celery_broker, fake_provider):
    fake_provider("RecordingBackend")
    result = send_due_messages.delay().get()
    assert result["sent"] == 1


def test_beat_runs_the_sender_every_minute():
    task = PeriodicTask.objects.get(name="campaigns: send due messages")
    assert task.task == "campaigns.tasks.send_due_messages"
    assert (task.interval.every, task.interval.period) == (1, "minutes")
    assert task.enabled and task.expire_seconds <= 60


# --- email through Django's mail -----------------------------------------------------------------


def test_email_goes_through_djangos_mail_with_its_message_id_as_provider_id(consenting, clock, settings):
    settings.MESSAGE_EMAIL_BACKEND = "email"
    settings.DEFAULT_FROM_EMAIL = "会员中心 <members@example.com>"
    message = MessageFactory(
        member=consenting,
        channel=MessageChannel.EMAIL,
        recipient=consenting.email,
        subject="王芳，春季焕新",
        body="全场满200减50。",
        send_after=clock.now,
    )
    assert messages_send_due()["sent"] == 1
    [email] = mail.outbox
    assert (email.to, email.subject, email.body) == (["wangfang@example.com"], "王芳，春季焕新", "全场满200减50。")
    assert email.from_email == "会员中心 <members@example.com>"
    message.refresh_from_db()
    assert message.provider_id == email.extra_headers["Message-ID"]
    assert f"msg-{message.pk}" in message.provider_id and message.provider_id.endswith("@example.com>")


# --- the embedded mode: no broker, no beat -------------------------------------------------------


class InlineThread:
    """Runs a thread's target at start(), on the test's own connection."""

    def __init__(self, target, name=None, daemon=None):
        self.target = target

    def start(self):
        self.target()


def test_without_a_broker_a_sender_thread_sends_what_was_just_queued(queued, monkeypatch, settings, outbox_file):
    from campaigns.services import messaging

    settings.BROKER_CONFIGURED = False
    monkeypatch.setattr(messaging.threading, "Thread", InlineThread)
    monkeypatch.setattr(messaging.connections, "close_all", lambda: None)  # the thread's own connection, normally
    messaging.messages_send_soon()
    queued.refresh_from_db()
    assert queued.status == "sent"
    assert not messaging._wakeup.is_set()


def test_the_send_messages_command_sends_what_is_due(queued, fake_provider):
    from io import StringIO

    from django.core.management import call_command

    fake_provider("RecordingBackend")
    out = StringIO()
    call_command("send_messages", stdout=out)
    assert out.getvalue().startswith("1 sent, 0 to retry, 0 failed")
