"""Opt-out: the member withdraws marketing consent (an SMS "T" reply, an unsubscribe, at the till). It is
recorded as the members app records consent, audited, and no marketing message of theirs goes out after."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from campaigns.models import Message
from campaigns.services.messaging import OptOutSource, is_opt_out_reply, member_opt_out, message_queue
from members.models import Member
from stores.models import AuditEntry
from tests.factories import StaffFactory
from tests.factories.campaigns import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db


def opt_out(chain, member, **kwargs):
    kwargs.setdefault("source", OptOutSource.SMS_REPLY)
    kwargs.setdefault("actor", chain.hq_admin)
    return member_opt_out(member=member, **kwargs)


def test_opting_out_withdraws_consent_audits_it_and_stops_queued_marketing_messages(chain, consenting, clock):
    # Given a queued campaign SMS, a queued service notice, one already sent, and one in a backend's hands
    waiting = MessageFactory(member=consenting)
    notice = MessageFactory(member=consenting, purpose=Message.Purpose.SERVICE)
    sent = MessageFactory(member=consenting, status=Message.Status.SENT, sent_at=clock.now)
    in_flight = MessageFactory(
        member=consenting,
        status=Message.Status.SENDING,
        claim_token="w1",
        claimed_at=clock.now,
        last_attempt_at=clock.now,
    )
    # When the member replies "T" to an SMS
    result = opt_out(chain, consenting, channel="sms", reply="T")
    # Then consent is withdrawn as the members app withdraws it
    member = Member.objects.get(pk=consenting.pk)
    assert (member.marketing_consent, member.consent_at, member.consent_source) == (False, None, "")
    assert (result.changed, result.messages_cancelled) == (True, 1)
    # And the waiting campaign SMS will not be sent; the others are untouched
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {waiting.pk: "no_consent", notice.pk: "queued", sent.pk: "sent", in_flight.pk: "sending"}
    assert Message.objects.get(pk=waiting.pk).error == "Opted out (sms_reply)."
    # And it is audited with where it came from and what consent there was
    audit = AuditEntry.objects.get(action="member.marketing_opt_out")
    assert audit.actor == chain.hq_admin and audit.target_id == str(consenting.pk)
    assert audit.reason == "T"
    assert audit.data["source"] == "sms_reply" and audit.data["channel"] == "sms"
    assert audit.data["before"]["consent_source"] == "tablet"
    assert audit.data["messages_cancelled"] == 1


def test_opting_out_again_changes_nothing_and_writes_no_audit(chain, consenting):
    opt_out(chain, consenting)
    audits = AuditEntry.objects.count()
    again = opt_out(chain, Member.objects.get(pk=consenting.pk))
    assert (again.changed, again.messages_cancelled) == (False, 0)
    assert AuditEntry.objects.count() == audits


def test_after_opting_out_new_marketing_messages_are_not_sent(chain, consenting):
    opt_out(chain, consenting)
    template = MessageTemplateFactory()
    member = Member.objects.get(pk=consenting.pk)
    assert message_queue(member=member, template=template, key=f"k:{uuid.uuid4()}").status == "no_consent"


@pytest.mark.parametrize("reply", ["T", "t", "TD", "Ｔ", " 退订 ", "退订。", "N", "unsubscribe", "STOP"])
def test_the_replies_that_mean_stop(reply):
    assert is_opt_out_reply(reply)


def test_a_reply_that_is_not_an_opt_out_is_refused_and_nothing_is_written(chain, consenting):
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        opt_out(chain, consenting, reply="好的，谢谢")
    assert caught.value.error_dict["reply"][0].code == "not_an_opt_out_reply"
    assert Member.objects.get(pk=consenting.pk).marketing_consent
    assert not AuditEntry.objects.filter(action="member.marketing_opt_out").exists()


def test_store_staff_may_record_an_opt_out_at_the_till_and_a_login_without_a_role_may_not(chain, consenting, db):
    nobody = StaffFactory(username="nobody", role=None)
    with pytest.raises(PermissionDenied):
        opt_out(chain, consenting, actor=nobody)
    assert Member.objects.get(pk=consenting.pk).marketing_consent
    assert opt_out(chain, consenting, actor=chain.cashier_b, source=OptOutSource.STAFF).changed


def test_an_unknown_source_is_refused(chain, consenting):
    with pytest.raises(ValidationError) as caught:
        opt_out(chain, consenting, source="carrier_pigeon")
    assert caught.value.error_dict["source"][0].code == "opt_out_source_unknown"
