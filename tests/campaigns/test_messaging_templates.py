"""Message templates: what a marketer may write, and what is refused with a message before anything is saved."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from campaigns.models import MessageChannel, MessageTemplate
from campaigns.services.messaging import message_template_save
from stores.models import AuditEntry

pytestmark = pytest.mark.django_db


def save(chain, **fields):
    values = {"name": "积分提醒", "channel": MessageChannel.SMS, "body": "{name}您好，您有{points}积分。"}
    values.update(fields)
    return message_template_save(actor=values.pop("actor", chain.marketer), **values)


def refusal(chain, **fields) -> dict[str, list[tuple[str, str]]]:
    """The errors by field, as (code, English message), and proof that nothing was written."""
    templates, audits = MessageTemplate.objects.count(), AuditEntry.objects.count()
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        save(chain, **fields)
    assert MessageTemplate.objects.count() == templates
    assert AuditEntry.objects.count() == audits
    return {field: [(e.code, e.messages[0]) for e in errors] for field, errors in caught.value.error_dict.items()}


def test_a_template_with_known_variables_is_saved_and_audited(chain):
    template = save(chain, body="  {name}您好，您的{coupon_name}（券码{coupon_code}）有效至{coupon_valid_until}。 ")
    assert template.body == "{name}您好，您的{coupon_name}（券码{coupon_code}）有效至{coupon_valid_until}。"
    audit = AuditEntry.objects.get(action="campaigns.message_template_saved")
    assert audit.actor == chain.marketer
    assert audit.data["created"] is True
    assert audit.data["after"]["body"] == template.body


def test_an_unknown_variable_is_refused_naming_it_and_listing_the_known_ones(chain):
    errors = refusal(chain, body="{name}您好，您的{balance}元和{nickname}")
    [(code, message)] = errors["body"]
    assert code == "template_unknown_variable"
    assert message.startswith("Unknown variables: {balance}, {nickname}. Known variables: {name}, {member_code},")
    for known in ("{points}", "{points_expiring}", "{expiring_on}", "{tier}", "{coupon_code}", "{store}"):
        assert known in message


@pytest.mark.parametrize(
    "body, shown",
    [
        ("{name您好", "“{name您好”"),
        ("您好}", "“}”"),
        ("{member.phone}", "“{member.phone}”"),
        ("{points:>10}", "“{points:>10}”"),
        ("{points!r}", "“{points!r}”"),
        ("{name[0]}", "“{name[0]}”"),
        ("{}", "“{}”"),
        ("{ name }", "“{ name }”"),
        ("{Name}", "“{Name}”"),
        ("{name {points}}", "“{name ”"),
    ],
)
def test_malformed_braces_are_refused_showing_where(chain, body, shown):
    errors = refusal(chain, body=body)
    codes = [code for code, _message in errors["body"]]
    assert "template_malformed" in codes
    message = dict(errors["body"])["template_malformed"]
    assert shown in message
    assert "Write a variable as {name}, a brace itself as {{ or }}." in message


def test_doubled_braces_are_literal_braces(chain):
    template = save(chain, body="{{会员日}} {name}")
    assert template.body == "{{会员日}} {name}"


def test_an_email_needs_a_subject_and_its_variables_are_checked_too(chain):
    errors = refusal(chain, channel=MessageChannel.EMAIL, subject="")
    assert errors["subject"][0] == ("template_subject_required", "An email needs a subject.")
    errors = refusal(chain, channel=MessageChannel.EMAIL, subject="{nickname}的账单")
    assert errors["subject"][0][0] == "template_unknown_variable"


def test_only_an_email_has_a_subject(chain):
    errors = refusal(chain, channel=MessageChannel.SMS, subject="标题")
    assert errors["subject"][0][0] == "template_subject_not_allowed"


def test_a_wechat_message_needs_the_official_accounts_template_id(chain):
    errors = refusal(chain, channel=MessageChannel.WECHAT, wechat_template_id=" ")
    assert errors["wechat_template_id"][0][0] == "template_wechat_id_required"


def test_an_sms_too_long_with_its_variables_at_their_longest_is_refused(chain, settings):
    settings.MESSAGE_SMS_MAX_LENGTH = 70
    # 9 literal characters + {name} at 50 + {points} at 10 + the opt-out text " 回T退订" (5) = 74 > 70
    errors = refusal(chain, body="尊敬的会员您好：{name}，{points}")
    [(code, message)] = errors["body"]
    assert code == "template_too_long"
    assert "74 characters; the most for SMS is 70" in message
    # Without {points} it fits: 9 + 50 + 5 = 64.
    assert save(chain, body="尊敬的会员您好：{name}，").pk


def test_a_wechat_text_is_limited_to_200_characters(chain):
    errors = refusal(chain, channel=MessageChannel.WECHAT, wechat_template_id="T1", body="积" * 150 + "{name}{store}")
    assert errors["body"][0][0] == "template_too_long"


def test_the_email_subject_is_limited_with_its_variables_at_their_longest(chain):
    errors = refusal(chain, channel=MessageChannel.EMAIL, subject="{name}{name}{coupon_name}")
    assert errors["subject"][0][0] == "template_too_long"


def test_every_problem_is_reported_at_once(chain):
    errors = refusal(chain, name=" ", channel=MessageChannel.EMAIL, subject="", body="{x")
    assert set(errors) == {"name", "subject", "body"}


def test_changing_a_template_is_audited_with_before_and_after_and_no_change_writes_nothing(chain):
    template = save(chain)
    save(chain, template=template, body="{name}，积分{points}。")
    audit = AuditEntry.objects.filter(action="campaigns.message_template_saved").latest("id")
    assert audit.data["changed"] == ["body"]
    assert audit.data["before"] == {"body": "{name}您好，您有{points}积分。"}
    assert audit.data["after"] == {"body": "{name}，积分{points}。"}
    count = AuditEntry.objects.count()
    save(chain, template=template, body="{name}，积分{points}。")
    assert AuditEntry.objects.count() == count


def test_store_staff_may_not_write_templates(chain):
    with pytest.raises(PermissionDenied):
        save(chain, actor=chain.manager_a)
    assert not MessageTemplate.objects.exists()


def test_the_database_refuses_an_email_template_without_a_subject(chain):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        MessageTemplate.objects.create(name="x", channel=MessageChannel.EMAIL, body="hi", subject="")
