"""The member's confirmation code goes out as a service SMS through the outbox (campaigns.servicecard_codes)."""

import logging
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from campaigns.models import Message, MessageTemplate
from campaigns.servicecard_codes import TEMPLATE_NAME
from campaigns.services.messaging import messages_send_due
from servicecards.models import CardSettings
from servicecards.services.confirmation import use_code_issue
from tests.factories import MemberFactory


@pytest.fixture(autouse=True)
def _codes_asked(db, settings, tmp_path):
    CardSettings.objects.update_or_create(singleton=True, defaults={"use_confirmation": "code"})
    settings.MESSAGE_FILE_PATH = tmp_path / "outbox.jsonl"
    settings.MESSAGE_SMS_BACKEND = "file"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def card(sell_card, member, wash_card):
    return sell_card(member, wash_card).card


def code_of(error: ValidationError) -> str:
    return next(iter(error.error_dict.values()))[0].code


def the_code(message: Message) -> str:
    return re.search(r"(?<!\d)(\d{6})(?!\d)", message.body).group(1)


def test_issuing_a_code_queues_one_service_sms_to_the_cards_member(card, chain):
    use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)

    message = Message.objects.get()
    assert message.member == card.member and message.recipient == card.member.phone
    assert (message.channel, message.purpose, message.status) == ("sms", "service", "queued")
    # Sent at once, whatever the hour: the member is at the counter; no opt-out text on a service notice.
    assert message.quiet_start is None and message.quiet_end is None
    assert message.body == f"【{chain.store_a.name}】您的服务卡核销验证码 {the_code(message)}，5分钟内有效。"
    assert str(card.pk) in message.key and the_code(message) not in message.key


def test_a_second_code_within_a_minute_is_refused(card, chain):
    use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)

    with pytest.raises(ValidationError) as refused:
        use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)

    assert code_of(refused.value) == "code_recently_sent"
    assert Message.objects.count() == 1


def test_the_code_in_the_sms_confirms_the_use(card, wash, use_card, chain):
    use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)
    code = the_code(Message.objects.get())

    entry = use_card(card, wash, confirmation="code", confirmation_code=code)

    assert entry.confirmation == "code"
    card.refresh_from_db()
    assert card.uses_remaining == 11


def test_codes_of_two_issues_are_two_messages_under_one_template(card, chain, member, sell_card, wash_card):
    other = sell_card(member, wash_card).card
    use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)
    use_code_issue(card=other, store=chain.store_a, actor=chain.cashier_a)

    assert Message.objects.count() == 2
    assert MessageTemplate.objects.filter(name=TEMPLATE_NAME).count() == 1


def test_hq_may_reword_the_template_but_not_lose_the_code(card, chain, member, sell_card, wash_card):
    MessageTemplate.objects.create(name=TEMPLATE_NAME, channel="sms", body="验证码{use_code}，请勿告诉他人。")
    MessageTemplate.objects.create(name=TEMPLATE_NAME, channel="sms", body="没有验证码的模板")
    use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)

    message = Message.objects.get()
    assert message.body == f"验证码{the_code(message)}，请勿告诉他人。"


def test_a_member_without_a_phone_gets_no_code_and_may_be_asked_again(chain, sell_card, wash_card):
    card = sell_card(MemberFactory(phone="13700137000"), wash_card).card
    type(card.member).objects.filter(pk=card.member_id).update(phone="")
    card.member.refresh_from_db()

    for _attempt in range(2):  # not "sent less than a minute ago": nothing was sent
        with pytest.raises(ValidationError) as refused:
            use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)
        assert code_of(refused.value) == "code_no_phone"
    assert not Message.objects.exists()


def test_the_code_is_in_no_log_line_nor_in_the_database_in_clear(card, chain, caplog):
    # Every logger at DEBUG, the SQL log (with its parameters, as `make run` logs it) included.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="django"):
        use_code_issue(card=card, store=chain.store_a, actor=chain.cashier_a)
        messages_send_due()
    message = Message.objects.get()
    code = the_code(message)

    assert message.status == "sent"
    assert "INSERT INTO" in caplog.text and "campaigns_message" in caplog.text  # the SQL was logged
    assert code not in caplog.text
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT body FROM campaigns_message")
        [(stored,)] = cursor.fetchall()
    assert code not in stored
