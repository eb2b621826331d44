"""Queueing: one member or a whole segment, rendered at once, with a status that says at once whether it
will be sent (consent, address), once per key, held through quiet hours."""

import uuid
from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from campaigns.messaging.addresses import register_wechat_openid_resolver
from campaigns.messaging.quiet_hours import QuietHours
from campaigns.models import Coupon, CouponTemplate, Message, MessageChannel
from campaigns.services.messaging import message_queue, messages_queue_bulk, messages_send_due
from members.models import Member
from tests.campaigns.conftest import many_members
from tests.factories import MemberFactory
from tests.factories.campaigns import MessageTemplateFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms(db):
    return MessageTemplateFactory(channel=MessageChannel.SMS, body="{name}您好，春季焕新，全场满200减50。")


def queue(member, template, **kwargs):
    kwargs.setdefault("key", f"test:{uuid.uuid4()}")
    return message_queue(member=member, template=template, **kwargs)


def refused(code: str, **kwargs) -> ValidationError:
    count = Message.objects.count()
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        queue(**kwargs)
    assert Message.objects.count() == count
    assert (
        code in [e.code for e in caught.value.error_list]
        if not hasattr(caught.value, "error_dict")
        else [e.code for errors in caught.value.error_dict.values() for e in errors]
    )
    return caught.value


# --- consent and addresses ---------------------------------------------------------------------


def test_a_marketing_sms_to_a_member_with_consent_is_queued_to_their_phone(consenting, sms, clock):
    message = queue(consenting, sms)
    assert (message.status, message.recipient, message.purpose) == ("queued", "+8613800138000", "marketing")
    assert message.body == "王芳您好，春季焕新，全场满200减50。 回T退订"
    assert message.send_after == clock.now


def test_without_marketing_consent_the_message_says_so_at_once_and_is_never_sent(unconsenting, sms, outbox_file):
    message = queue(unconsenting, sms)
    assert message.status == Message.Status.NO_CONSENT
    assert message.recipient == ""  # nobody's address is kept for a message that will not go
    assert messages_send_due()["sent"] == 0
    assert not outbox_file.exists()


def test_a_service_notice_needs_no_marketing_consent(unconsenting, sms):
    message = queue(unconsenting, sms, marketing=False)
    assert (message.status, message.purpose) == ("queued", "service")
    assert message.body == "李娜您好，春季焕新，全场满200减50。"  # no opt-out text on a service notice


def test_campaign_and_automation_messages_are_always_marketing(unconsenting, sms, campaign):
    refused("message_is_marketing", member=unconsenting, template=sms, campaign=campaign, marketing=False)
    message = queue(unconsenting, sms, campaign=campaign)
    assert (message.status, message.campaign) == ("no_consent", campaign)


def test_an_email_goes_to_the_members_email_and_without_one_it_has_no_address(consenting, db):
    email = MessageTemplateFactory(channel=MessageChannel.EMAIL, subject="{name}，春季焕新", body="正文")
    message = queue(consenting, email)
    assert (message.status, message.recipient, message.subject) == ("queued", "wangfang@example.com", "王芳，春季焕新")
    no_email = MemberFactory(phone="13600136000", name="张伟", marketing_consent=True)
    assert queue(no_email, email).status == Message.Status.NO_ADDRESS


def test_wechat_messages_go_to_the_openid_the_wechat_integration_knows(consenting, unconsenting, db):
    wechat = MessageTemplateFactory(channel=MessageChannel.WECHAT, wechat_template_id="TPL-9", body="{name}")
    # Without a WeChat integration nobody has an address there.
    assert queue(consenting, wechat).status == Message.Status.NO_ADDRESS
    asked = []

    def openids(member_ids):
        asked.append(list(member_ids))
        return {consenting.pk: "oAbC123"}

    register_wechat_openid_resolver(openids)
    try:
        message = queue(consenting, wechat)
        assert (message.status, message.recipient) == ("queued", "oAbC123")
        other = MemberFactory(phone="13600136000", name="张伟", marketing_consent=True)
        assert queue(other, wechat).status == Message.Status.NO_ADDRESS
        assert asked == [[consenting.pk], [other.pk]]
    finally:
        register_wechat_openid_resolver(None)


# --- once per key --------------------------------------------------------------------------------


def test_the_same_key_again_answers_the_first_message_and_writes_nothing(consenting, sms):
    first = queue(consenting, sms, key="campaign:1:member:1")
    other_template = MessageTemplateFactory(body="另一条")
    again = queue(consenting, other_template, key="campaign:1:member:1")
    assert again.pk == first.pk and again.replayed
    assert Message.objects.count() == 1


def test_a_key_is_required_and_short(consenting, sms):
    refused("message_key_required", member=consenting, template=sms, key=" ")
    refused("message_key_too_long", member=consenting, template=sms, key="k" * 121)


def test_a_variable_without_a_value_is_refused_and_nothing_is_written(consenting):
    coupon_sms = MessageTemplateFactory(body="{name}，您的券码{coupon_code}")
    error = refused("message_variable_missing", member=consenting, template=coupon_sms)
    assert "{coupon_code}" in error.messages[0]


def test_a_template_saved_with_an_unknown_variable_cannot_be_queued(consenting):
    broken = MessageTemplateFactory(body="{name}{balance}")  # written around message_template_save
    refused("template_invalid", member=consenting, template=broken)


# --- quiet hours ---------------------------------------------------------------------------------

NIGHT = (time(21, 0), time(9, 0))


@pytest.mark.parametrize(
    "due, sent",
    [
        (local(2026, 3, 15, 23, 30), local(2026, 3, 16, 9, 0)),  # late evening: the next morning
        (local(2026, 3, 15, 21, 0), local(2026, 3, 16, 9, 0)),  # the first minute of the quiet hours
        (local(2026, 3, 16, 6, 0), local(2026, 3, 16, 9, 0)),  # after midnight: the same morning
        (local(2026, 3, 16, 0, 0), local(2026, 3, 16, 9, 0)),  # midnight itself
        (local(2026, 3, 15, 9, 0), local(2026, 3, 15, 9, 0)),  # the end of the quiet hours is not quiet
        (local(2026, 3, 15, 20, 59), local(2026, 3, 15, 20, 59)),  # before they start
        (local(2026, 12, 31, 22, 0), local(2027, 1, 1, 9, 0)),  # across the end of a year
    ],
)
def test_quiet_hours_across_midnight_hold_a_message_until_they_end(consenting, sms, clock, due, sent):
    clock.set(due)
    message = queue(consenting, sms, quiet_hours=NIGHT)
    assert message.send_after == sent
    assert (message.quiet_start, message.quiet_end) == NIGHT


def test_quiet_hours_within_a_day(consenting, sms, clock):
    clock.set(local(2026, 3, 15, 13, 0))
    assert queue(consenting, sms, quiet_hours=(time(12, 0), time(14, 0))).send_after == local(2026, 3, 15, 14, 0)


def test_a_later_send_after_inside_the_quiet_hours_waits_for_their_end(consenting, sms, clock):
    message = queue(consenting, sms, send_after=local(2026, 3, 15, 22, 15), quiet_hours=QuietHours(*NIGHT))
    assert message.send_after == local(2026, 3, 16, 9, 0)


def test_quiet_hours_must_not_be_empty(consenting, sms):
    refused("quiet_hours_empty", member=consenting, template=sms, quiet_hours=(time(9), time(9)))
    refused("quiet_hours_incomplete", member=consenting, template=sms, quiet_hours=(time(9), None))


def test_a_message_held_by_quiet_hours_is_not_sent_before_they_end(consenting, sms, clock, outbox_file):
    clock.set(local(2026, 3, 15, 23, 0))
    queue(consenting, sms, quiet_hours=NIGHT)
    assert messages_send_due()["sent"] == 0
    clock.set(local(2026, 3, 16, 8, 59))
    assert messages_send_due()["sent"] == 0
    clock.set(local(2026, 3, 16, 9, 0))
    assert messages_send_due()["sent"] == 1


# --- sent soon after queueing --------------------------------------------------------------------


def test_queued_messages_are_sent_right_after_the_commit(
    consenting, sms, celery_broker, django_capture_on_commit_callbacks, outbox_file
):
    with django_capture_on_commit_callbacks(execute=True):
        message = queue(consenting, sms)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert "王芳您好" in outbox_file.read_text(encoding="utf-8")


def test_nothing_is_asked_of_a_worker_for_a_message_that_will_not_be_sent(
    unconsenting, sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        queue(unconsenting, sms)
    assert callbacks == []


# --- bulk ----------------------------------------------------------------------------------------


def count_queries(work) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured.captured_queries)


def test_a_bulk_queue_of_thousands_of_members_takes_the_same_queries_as_of_a_hundred(
    sms, campaign, django_capture_on_commit_callbacks
):
    # Given 3,000 members with consent and 200 without
    many_members(3000)
    many_members(200, consent=False, start=5000)
    # When the campaign's SMS ({name}, and {points}: one more loader) is queued to all of them
    template = MessageTemplateFactory(body="{name}您好，您有{points}积分，春季焕新满200减50。")
    with django_capture_on_commit_callbacks() as callbacks:
        queries = count_queries(
            lambda: messages_queue_bulk(
                members=Member.objects.all(), template=template, key_prefix="c1", campaign=campaign, batch_size=5000
            )
        )
    # Then each got one message, those without consent as no_consent, and a worker is asked once
    assert Message.objects.filter(campaign=campaign).count() == 3200
    assert Message.objects.filter(status="queued").count() == 3000
    assert Message.objects.filter(status="no_consent", recipient="").count() == 200
    assert len(callbacks) == 1
    # And 100 members cost exactly as many queries as 3,200: savepoint, staging table, the members (streamed),
    # points (accounts, lots), staging the rows (COPY; on SQLite emptying the table and one executemany), one
    # INSERT … SELECT … ON CONFLICT DO NOTHING, (on PostgreSQL TRUNCATE), dropping the table, release
    few = Member.objects.order_by("pk")[:100]
    assert (
        count_queries(
            lambda: messages_queue_bulk(
                members=few, template=template, key_prefix="c2", campaign=campaign, batch_size=5000
            )
        )
        == queries
    )
    assert queries == 10


def test_a_bulk_queue_reports_what_it_wrote_and_again_writes_nothing(sms, campaign):
    many_members(30)
    many_members(5, consent=False, start=100)
    members = Member.objects.all()
    first = messages_queue_bulk(members=members, template=sms, key_prefix="c:1", campaign=campaign, batch_size=10)
    assert first.as_dict() == {
        "queued": 30,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "no_consent": 5,
        "no_address": 0,
        "already_queued": 0,
        "missing_values": 0,
    }
    again = messages_queue_bulk(members=members, template=sms, key_prefix="c:1", campaign=campaign, batch_size=10)
    assert again.total_written == 0 and again.already_queued == 35
    assert Message.objects.count() == 35
    keys = set(Message.objects.values_list("key", flat=True))
    assert keys == {f"c:1:{pk}" for pk in members.values_list("pk", flat=True)}


def test_a_bulk_queue_renders_each_members_own_values(sms, campaign):
    many_members(3)
    template = MessageTemplateFactory(body="{name}的会员号{member_code}")
    messages_queue_bulk(members=Member.objects.all(), template=template, key_prefix="c", campaign=campaign)
    for message in Message.objects.select_related("member"):
        assert message.body == f"{message.member.name}的会员号{message.member.code} 回T退订"
        assert message.recipient == message.member.phone


def test_a_bulk_queue_of_coupons_gives_each_member_their_own_and_skips_those_without(campaign):
    members = list(many_members(3).order_by("pk"))
    coupon_template = CouponTemplate.objects.create(
        name="满100减20", kind="threshold_off", amount=20, threshold=100, valid_days=7
    )
    for member, code in zip(members[:2], ("CODEA111", "CODEB222"), strict=True):
        Coupon.objects.create(
            template=coupon_template,
            code=code,
            member=member,
            source="campaign",
            issue_key="campaign:9",
            valid_from=local(2026, 3, 1, 0),
            valid_until=local(2026, 3, 8, 0),
        )
    template = MessageTemplateFactory(body="券码{coupon_code}")
    result = messages_queue_bulk(
        members=Member.objects.all(),
        template=template,
        key_prefix="c9",
        context={"coupon_issue_key": "campaign:9"},
        campaign=campaign,
    )
    assert (result.total_written, result.missing_values) == (2, 1)
    assert sorted(Message.objects.values_list("body", flat=True)) == ["券码CODEA111 回T退订", "券码CODEB222 回T退订"]


def test_a_bulk_queue_takes_a_sliced_queryset_as_it_is(sms, campaign):
    members = many_members(10)
    top = members.order_by("-phone")[:3]
    result = messages_queue_bulk(members=top, template=sms, key_prefix="top", campaign=campaign)
    assert result.total_written == 3
    assert set(Message.objects.values_list("member_id", flat=True)) == set(top.values_list("pk", flat=True))


def test_a_bulk_queue_holds_messages_through_quiet_hours(sms, campaign, clock):
    many_members(4)
    clock.set(local(2026, 3, 15, 22, 0))
    messages_queue_bulk(
        members=Member.objects.all(),
        template=sms,
        key_prefix="q",
        campaign=campaign,
        quiet_hours=NIGHT,
    )
    assert set(Message.objects.values_list("send_after", flat=True)) == {local(2026, 3, 16, 9, 0)}
    assert set(Message.objects.values_list("quiet_start", "quiet_end")) == {NIGHT}


def test_a_single_queue_after_a_bulk_one_with_the_same_key_answers_the_bulk_message(sms, campaign):
    member = many_members(1).get()
    messages_queue_bulk(members=Member.objects.all(), template=sms, key_prefix="c5", campaign=campaign)
    again = message_queue(member=member, template=sms, key=f"c5:{member.pk}", campaign=campaign)
    assert again.replayed and Message.objects.count() == 1
