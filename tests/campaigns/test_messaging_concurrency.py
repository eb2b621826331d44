"""Two workers at once, each on its own thread and database connection (PostgreSQL only): SELECT … FOR
UPDATE SKIP LOCKED hands each message to one of them, and ON CONFLICT (key) DO NOTHING keeps a campaign
queued twice at once to one message per member."""

import threading

import pytest
from django.db import connection

from campaigns.models import Message
from campaigns.services import messaging
from campaigns.services.messaging import messages_queue_bulk
from campaigns.tasks import send_due_messages
from members.models import Member
from tests.campaigns.conftest import many_members
from tests.factories import MemberFactory
from tests.factories.campaigns import MessageFactory, MessageTemplateFactory

# serialized_rollback: a transactional test empties every table afterwards; this puts back what the
# migrations wrote (the role groups, the beat schedules) before each of these tests.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def race(n: int, work) -> list:
    """Run work(i) on n threads released together; each result is a value or the exception raised."""
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


def test_the_send_task_run_twice_at_once_sends_each_message_once(fake_provider):
    # Given 200 due messages and a provider that takes a little while for each
    sent = fake_provider("SlowRecordingBackend")
    member = MemberFactory(phone="13800138000", name="王芳", marketing_consent=True)
    for _ in range(200):
        MessageFactory(member=member)
    # When two workers run the task at the same moment
    results = race(2, lambda i: send_due_messages())
    # Then each message went out exactly once, and both workers did part of the work
    assert not [r for r in results if isinstance(r, Exception)], results
    ids = [message.id for message in sent]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sum(r["sent"] for r in results) == 200
    assert all(r["sent"] > 0 for r in results), results
    assert set(Message.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_campaign_queued_twice_at_once_has_one_message_per_member(monkeypatch):
    # No worker is woken: this test is about the rows written.
    monkeypatch.setattr(messaging, "messages_send_soon", lambda: None)
    many_members(300)
    template = MessageTemplateFactory(body="{name}您好，春季焕新")
    results = race(
        2,
        lambda i: messages_queue_bulk(
            members=Member.objects.all(), template=template, key_prefix="campaign:1", batch_size=50
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Message.objects.count() == 300
    assert sum(r.total_written for r in results) == 300
    assert sum(r.already_queued for r in results) == 300
