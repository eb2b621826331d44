"""Rendering: plain substitution of each variable's value, computed for the member and the caller's context."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.messaging.templating import parse
from campaigns.messaging.variables import clean_value, example_values, known_variables, variable_values
from campaigns.models import Coupon, CouponTemplate, Message, MessageChannel
from campaigns.services.messaging import message_queue
from loyalty.models import MemberStats, Wallet
from loyalty.services import points_adjust
from tests.factories import MemberFactory, StoreFactory
from tests.factories.campaigns import MessageTemplateFactory
from tests.factories.loyalty import TierFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db


def render(member, body, context=None, *, marketing=False, channel=MessageChannel.SMS, subject=""):
    template = MessageTemplateFactory(body=body, channel=channel, subject=subject)
    return message_queue(
        member=member, template=template, key=f"t:{uuid.uuid4()}", context=context, marketing=marketing
    )


def coupon_for(member, *, code="C8K2M4Q7", name="满200减50", issue_key="campaign:1"):
    template = CouponTemplate.objects.create(
        name=name,
        kind=CouponTemplate.Kind.THRESHOLD_OFF,
        amount=Decimal("50.00"),
        threshold=Decimal("200.00"),
        valid_days=30,
    )
    # Valid until the end of 2026-03-31 in China: the local midnight that starts April 1st.
    return Coupon.objects.create(
        template=template,
        code=code,
        member=member,
        source=Coupon.Source.CAMPAIGN,
        issue_key=issue_key,
        valid_from=local(2026, 3, 1, 0),
        valid_until=local(2026, 4, 1, 0),
    )


def test_the_members_own_variables(consenting, store_a):
    consenting.home_store = store_a
    consenting.save()
    message = render(consenting, "{name}（{member_code}，尾号{phone_last4}）在{store}")
    assert message.body == f"王芳（{consenting.code}，尾号8000）在上海徐汇店"


def test_points_and_the_points_expiring_soonest(chain, consenting, clock):
    # Given 300 points earned a year ago (they expire at the end of 2026-03-20) and 1000 earned today
    clock.set(local(2025, 3, 20, 10))
    points_adjust(request_id=str(uuid.uuid4()), member=consenting, points=300, reason="老积分", actor=chain.hq_admin)
    clock.set(local(2026, 3, 15, 12))
    points_adjust(request_id=str(uuid.uuid4()), member=consenting, points=1000, reason="新积分", actor=chain.hq_admin)
    # When a reminder is rendered
    message = render(consenting, "您有{points}积分，其中{points_expiring}积分将于{expiring_on}过期")
    # Then the balance, what expires within 30 days, and the last day of it
    assert message.body == "您有1300积分，其中300积分将于2026-03-20过期"
    # Looking 3 days ahead only, nothing expires
    message = render(consenting, "{points_expiring}|{expiring_on}", {"expiring_within_days": 3})
    assert message.body == "0|"


def test_a_member_without_points_has_zero(consenting):
    assert render(consenting, "{points}/{points_expiring}").body == "0/0"


def test_the_tier_and_the_entry_tier_of_a_member_who_has_not_bought_yet(consenting, unconsenting):
    entry = TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0"))
    gold = TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000"))
    MemberStats.objects.create(member=consenting, tier=gold)
    assert render(consenting, "{tier}").body == "金卡"
    assert render(unconsenting, "{tier}").body == entry.name


def test_stored_value_is_principal_and_bonus(consenting):
    Wallet.objects.create(member=consenting, principal=Decimal("500.00"), bonus=Decimal("50.00"))
    assert render(consenting, "¥{stored_value}").body == "¥550.00"


def test_the_coupon_just_issued_comes_from_the_context(consenting):
    coupon = coupon_for(consenting)
    message = render(consenting, "{coupon_name}，券码{coupon_code}，{coupon_valid_until}前有效", {"coupon": coupon})
    # The coupon ends at the midnight that starts April 1st: its last day is March 31st.
    assert message.body == "满200减50，券码C8K2M4Q7，2026-03-31前有效"


def test_a_context_value_named_like_a_variable_is_used_for_every_member(consenting):
    assert render(consenting, "{coupon_name}", {"coupon_name": "会员日双倍积分"}).body == "会员日双倍积分"


def test_values_are_substituted_literally_never_read_as_templates(consenting):
    # A store name or a context value that looks like a variable or a format string stays exactly that.
    consenting.home_store = StoreFactory(code="SX1", name="{coupon_code}{0}%s{{")
    consenting.save()
    message = render(consenting, "您好{name}，{store}，{coupon_name}", {"coupon_name": "{name}{points:>9}"})
    assert message.body == "您好王芳，{coupon_code}{0}%s{{，{name}{points:>9}"


def test_doubled_braces_render_as_single_braces(consenting):
    assert render(consenting, "{{会员日}}{name}}}").body == "{会员日}王芳}"


def test_values_lose_their_newlines_and_are_cut_at_their_longest():
    assert clean_value("第一行\r\n第二行\t第三", 50) == "第一行 第二行 第三"
    address = "上海市徐汇区漕溪北路一二三号港汇恒隆广场一期三楼三零一室会员中心"
    assert clean_value(address, 30) == address[:29] + "…"
    assert len(clean_value("x" * 100, 30)) == 30


def test_an_email_subject_is_one_line_whatever_the_values(db):
    member = MemberFactory(phone="13600136000", name="张伟", email="zw@example.com")
    message = render(
        member, "正文", {"coupon_name": "双\n倍"}, channel=MessageChannel.EMAIL, subject="{name}：{coupon_name}"
    )
    assert message.subject == "张伟：双 倍"


def test_marketing_sms_end_with_how_to_opt_out_and_service_notices_do_not(consenting, settings):
    settings.MESSAGE_SMS_OPT_OUT_TEXT = " 回T退订"
    assert render(consenting, "{name}您好", marketing=True).body == "王芳您好 回T退订"
    assert render(consenting, "{name}您好", marketing=False).body == "王芳您好"
    # A text that already says how to opt out does not say it twice.
    assert render(consenting, "{name}您好，退订回T", marketing=True).body == "王芳您好，退订回T"


def test_every_variable_is_computed_for_a_batch_of_members_in_a_constant_number_of_queries(
    django_assert_num_queries, consenting, unconsenting
):
    members = [consenting, unconsenting]
    names = [v.name for v in known_variables() if v.group != "coupon"]
    # member fields (none: loaded already), points (account, lots), tier (stats, entry), stored value
    with django_assert_num_queries(5):
        values = variable_values(members, names, {})
    assert values[consenting.pk]["name"] == "王芳"
    assert values[unconsenting.pk]["points"] == "0"
    more = [*members, *(MemberFactory(phone=f"1350013{i:04d}") for i in range(20))]
    with django_assert_num_queries(5):
        variable_values(more, names, {})


def test_coupons_of_a_bulk_issue_are_read_in_one_query(django_assert_num_queries, consenting, unconsenting):
    coupon_for(consenting, code="AAAA1111", issue_key="campaign:7")
    coupon_for(unconsenting, code="BBBB2222", issue_key="campaign:7")
    with django_assert_num_queries(1):
        values = variable_values([consenting, unconsenting], ["coupon_code"], {"coupon_issue_key": "campaign:7"})
    assert {v["coupon_code"] for v in values.values()} == {"AAAA1111", "BBBB2222"}


def test_every_variable_has_a_description_and_an_example_within_its_length():
    variables = known_variables()
    assert {"name", "member_code", "points", "points_expiring", "expiring_on", "tier", "coupon_name"} <= {
        v.name for v in variables
    }
    for v in variables:
        assert str(v.description)
        assert 0 < len(example_values([v.name])[v.name]) <= v.max_length


def test_the_parser_reads_literals_and_variables_in_order():
    parsed = parse("您好{name}，{points}分{{x}}{name}")
    assert parsed.variables == ("name", "points", "name")
    assert parsed.names == ["name", "points"]
    assert parsed.parts == ("您好", "，", "分{x}", "")
    assert parsed.render({"name": "A", "points": "9"}) == "您好A，9分{x}A"
    assert parsed.malformed == ()


def test_a_message_rendered_when_queued_keeps_its_text(consenting):
    message = render(consenting, "{name}")
    consenting.name = "王小芳"
    consenting.save()
    assert Message.objects.get(pk=message.pk).body == "王芳"


def test_coupon_dates_are_local_days(consenting):
    coupon = coupon_for(consenting)
    coupon.valid_until = local(2026, 4, 1, 0) + timedelta(hours=15)
    assert render(consenting, "{coupon_valid_until}", {"coupon": coupon}).body == "2026-04-01"
    assert timezone.is_aware(coupon.valid_until)
