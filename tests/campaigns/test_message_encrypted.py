"""The outbox keeps a message's recipient (a member's phone or email address), subject and text encrypted
at rest, as the members' own data (issue 17): a copy of the database shows no messaged member's phone or
name, whichever way the message was written (a campaign's bulk queue, one message, a test to oneself), and
the code reads them in clear. `rotate_member_keys` moves them to the current key, and the migration
encrypted the rows written before (members.fields, members.crypto)."""

import importlib
import io
import re
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from campaigns.erasure import ERASED_RECIPIENT
from campaigns.models import Message, MessageChannel
from campaigns.services.campaigns import campaign_launch
from campaigns.services.messaging import message_queue, messages_queue_bulk, messages_send_due
from members import crypto
from members.erasure import erase_member
from stores.models import StaffProfile
from tests.campaigns.conftest import many_members
from tests.factories.campaigns import CampaignFactory, MessageFactory, MessageTemplateFactory, SegmentFactory
from tests.member_keys import a_key

pytestmark = pytest.mark.django_db

CIPHERTEXT = re.compile(r"^[A-Za-z0-9_-]{1,16}:[A-Za-z0-9+/]+=*$")
COLUMNS = ("recipient", "subject", "body")


def stored_messages() -> dict[int, dict]:
    """Every outbox row as the database holds it (SQL, not the ORM, which would decrypt), by id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, recipient, subject, body FROM campaigns_message ORDER BY id")
        return {pk: dict(zip(COLUMNS, values, strict=True)) for pk, *values in cursor.fetchall()}


def assert_nothing_in_clear(*clear_texts: str) -> None:
    """Every stored recipient, subject and text is empty or ciphertext, and none contains the texts."""
    rows = stored_messages()
    assert rows
    for row in rows.values():
        assert all(value == "" or CIPHERTEXT.match(value) for value in row.values()), row
        for text in clear_texts:
            assert text not in str(row), (text, row)


def test_a_campaign_launched_through_the_service_leaves_no_phone_name_or_text_in_clear(
    chain, policy, consenting, unconsenting
):
    # Given a campaign with an SMS to every member, none held out
    campaign = CampaignFactory(
        segment=SegmentFactory(created_by=chain.marketer),
        holdout_percent=Decimal("0.0"),
        points=0,
        multiplier=2,
        message_template=MessageTemplateFactory(body="{name}您好，春季焕新满200减50。"),
    )

    # When it is launched
    campaign_launch(actor=chain.marketer, campaign=campaign)

    # Then the outbox table holds no phone, name or text in clear
    assert Message.objects.filter(campaign=campaign).count() == 2
    assert_nothing_in_clear("13800138000", "13900139000", "王芳", "李娜", "春季焕新")
    # And the code reads the message as it was rendered
    message = Message.objects.get(member=consenting)
    assert (message.recipient, message.body) == ("+8613800138000", "王芳您好，春季焕新满200减50。 回T退订")
    # The member without consent has no address kept, and the empty value is stored as it is
    declined = Message.objects.get(member=unconsenting)
    assert (declined.status, declined.recipient) == ("no_consent", "")
    assert stored_messages()[declined.pk]["recipient"] == ""


def test_a_single_message_queued_and_sent_is_stored_encrypted_and_read_in_clear(consenting, clock, outbox_file):
    # Given an email queued to one member
    template = MessageTemplateFactory(channel=MessageChannel.EMAIL, subject="{name}，春季焕新", body="{name}您好")
    message = message_queue(member=consenting, template=template, key="test:one-email")

    # When it is sent
    assert messages_send_due()["sent"] == 1

    # Then the database holds neither the address, the name nor the subject
    assert_nothing_in_clear("wangfang@example.com", "王芳", "春季焕新")
    # And the sender and the code read them in clear
    assert '"recipient": "wangfang@example.com"' in outbox_file.read_text(encoding="utf-8")
    message.refresh_from_db()
    assert (message.status, message.recipient, message.subject) == ("sent", "wangfang@example.com", "王芳，春季焕新")
    assert message.body.startswith("王芳您好")


def test_a_test_sent_from_the_preview_page_is_stored_encrypted(client, chain, consenting):
    # Given a marketer with a phone, on the preview of an SMS template
    StaffProfile.objects.filter(user=chain.marketer).update(phone="13500135000")
    template = MessageTemplateFactory(body="{name}您好，您有{points}积分。")
    url = reverse("admin:campaigns_messagetemplate_preview", args=[template.pk])
    client.force_login(chain.marketer)
    preview = client.get(url, {"member": consenting.code})
    assert "王芳您好" in preview.content.decode()

    # When they send themselves a test rendered for the member
    client.post(url, {"member": consenting.code, "request_id": "d" * 32})

    # Then the database holds neither their phone nor the member's name
    assert_nothing_in_clear("13500135000", "王芳")
    assert (Message.objects.get().recipient, Message.objects.get().purpose) == ("+8613500135000", "test")


def test_a_bulk_queue_to_several_members_writes_rows_that_decrypt_to_what_was_rendered(consenting, clock):
    # Given five members with consent and an SMS naming them
    members = many_members(5)
    template = MessageTemplateFactory(body="{name}您好，会员号{member_code}")

    # When the bulk queue writes them, two members per batch, then runs again
    first = messages_queue_bulk(members=members, template=template, key_prefix="bulk:1", batch_size=2)
    again = messages_queue_bulk(members=members, template=template, key_prefix="bulk:1", batch_size=2)

    # Then five rows were written once, and each stored value decrypts to the member's own
    assert (first.written["queued"], again.already_queued) == (5, 5)
    rows = stored_messages()
    for message in Message.objects.select_related("member"):
        row = rows[message.pk]
        member = message.member
        assert crypto.decrypt(row["recipient"], purpose="message.recipient") == member.phone
        assert crypto.decrypt(row["body"], purpose="message.body") == f"{member.name}您好，会员号{member.code} 回T退订"
        assert row["subject"] == ""  # an SMS has none
        assert member.phone not in str(row) and member.name not in str(row)
    # And the ORM reads them in clear
    assert sorted(Message.objects.values_list("recipient", flat=True)) == sorted(m.phone for m in members)


def test_the_outbox_cannot_be_searched_by_its_encrypted_text(consenting):
    MessageFactory(member=consenting)

    with pytest.raises(FieldError):
        list(Message.objects.filter(recipient="+8613800138000"))
    with pytest.raises(FieldError):
        list(Message.objects.filter(body__contains="王芳"))
    # The empty value still answers (the outbox's own constraint compares with it)
    assert Message.objects.exclude(recipient="").get().member == consenting


def test_an_erased_members_sent_message_keeps_only_the_marker_encrypted(chain, consenting, clock):
    # Given a message sent to the member
    sent = MessageFactory(member=consenting, status="sent", sent_at=clock.now)

    # When the member is erased
    erase_member(member=consenting, by=chain.hq_admin, reason="会员书面申请注销")

    # Then the row says only that there was an address, encrypted like any recipient
    sent.refresh_from_db()
    assert (sent.recipient, sent.subject, sent.body) == (ERASED_RECIPIENT, "", "")
    assert CIPHERTEXT.match(stored_messages()[sent.pk]["recipient"])


def test_rotation_re_encrypts_the_messages_under_the_current_key(keys, consenting):
    # Given messages written under the key k1
    messages = [MessageFactory(member=consenting, subject=f"主题{i}", body=f"王芳您好{i}") for i in range(3)]
    assert all(row["recipient"].startswith("k1:") for row in stored_messages().values())

    # When k2 becomes the current key and the rotation runs
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')},k1:{a_key(b'a')}"
    call_command("rotate_member_keys", "--batch-size", "2", stdout=io.StringIO(), stderr=io.StringIO())

    # Then every message's values are under k2 and read as before, without k1
    for row in stored_messages().values():
        assert all(value.startswith("k2:") for value in row.values()), row
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')}"
    for i, message in enumerate(messages):
        message.refresh_from_db()
        assert (message.recipient, message.subject, message.body) == ("+8613800138000", f"主题{i}", f"王芳您好{i}")


class _Editor:
    connection = connection


def test_the_migration_encrypts_the_messages_written_in_clear_before_and_its_reverse_decrypts_them(consenting):
    # Given a message as it was stored before the migration, in clear, and one without an address
    message = MessageFactory(member=consenting, subject="王芳，春季焕新", body="王芳您好")
    declined = MessageFactory(member=consenting, status="no_consent", recipient="")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE campaigns_message SET recipient = %s, subject = %s, body = %s WHERE id = %s",
            ["+8613800138000", "王芳，春季焕新", "王芳您好", message.pk],
        )
    migration = importlib.import_module("campaigns.migrations.0010_message_encrypted")

    # When the migration runs
    migration.encrypt_messages(apps, _Editor())

    # Then it is ciphertext in the table, the empty address stays empty, and the code reads it
    assert_nothing_in_clear("13800138000", "王芳", "春季焕新")
    assert stored_messages()[declined.pk]["recipient"] == ""
    message.refresh_from_db()
    assert (message.recipient, message.subject, message.body) == ("+8613800138000", "王芳，春季焕新", "王芳您好")

    # And undoing it brings the clear text back
    migration.decrypt_messages(apps, _Editor())
    assert stored_messages()[message.pk] == {
        "recipient": "+8613800138000",
        "subject": "王芳，春季焕新",
        "body": "王芳您好",
    }
