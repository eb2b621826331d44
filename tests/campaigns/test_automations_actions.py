"""What an automation does for the members it reaches: coupon, points, double points, message (in quiet
hours delayed to their end), by churn reason with a fallback; conditions, frequency cap, holdout, once."""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from campaigns.churn import register_churn_source, unregister_churn_sources
from campaigns.models import Automation, AutomationEffect, Coupon, Message, PointsBoost, Segment
from campaigns.services.automations import automation_run, automations_run, is_held_out
from loyalty.models import PointsAccount, PointsEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import AutomationFactory, CouponTemplateFactory, MessageTemplateFactory
from tests.loyalty.clock import local
from tests.loyalty.test_concurrency import assert_reconciles

pytestmark = pytest.mark.django_db

Trigger = Automation.Trigger


@pytest.fixture
def birthday_tomorrow(clock, policy):
    """王芳 (consent) and 李娜 (no consent), both born on 16 March; the clock is 15 March 2026, noon."""
    return (
        MemberFactory(name="王芳", phone="13800138000", birthday=date(1990, 3, 16), marketing_consent=True),
        MemberFactory(name="李娜", phone="13900139000", birthday=date(1991, 3, 16), marketing_consent=False),
    )


@pytest.fixture
def churn_source():
    rows: dict[int, str] = {}
    register_churn_source(lambda *, now, member_ids=None: [(m, r) for m, r in rows.items()])
    yield rows
    unregister_churn_sources()


def test_a_coupon_is_issued_to_each_member_reached_and_named_on_the_effect(birthday_tomorrow, clock):
    template = CouponTemplateFactory(name="生日礼券")
    automation = AutomationFactory(points=0, coupon_template=template)

    result = automation_run(automation, now=clock.now)

    coupons = Coupon.objects.filter(automation=automation)
    assert result.coupons == 2 and coupons.count() == 2
    assert set(coupons.values_list("source", "issue_key")) == {
        ("automation", f"automation:{automation.pk}:birthday:2026")
    }
    for effect in AutomationEffect.objects.filter(automation=automation):
        assert effect.coupon.member_id == effect.member_id


def test_points_are_awarded_through_the_ledger_once_with_the_automations_key(birthday_tomorrow, clock):
    wang, _li = birthday_tomorrow
    automation = AutomationFactory(points=188)

    automation_run(automation, now=clock.now)
    automation_run(automation, now=clock.now + timedelta(hours=1))

    entry = PointsEntry.objects.get(member=wang, idempotency_key=f"automation:{automation.pk}:{wang.pk}:birthday:2026")
    assert (entry.kind, entry.points) == ("behaviour", 188)
    assert PointsAccount.objects.get(pk=wang.pk).available == 188
    assert AutomationEffect.objects.get(automation=automation, member=wang).points == 188
    assert_reconciles()


def test_a_multiplier_gives_a_points_boost_window_from_now(birthday_tomorrow, clock):
    automation = AutomationFactory(points=0, multiplier=Decimal("2"), multiplier_days=7)

    automation_run(automation, now=clock.now)

    boosts = PointsBoost.objects.filter(automation=automation)
    assert boosts.count() == 2
    boost = boosts.first()
    assert (boost.multiplier, boost.starts_at, boost.ends_at) == (
        Decimal("2.00"),
        clock.now,
        clock.now + timedelta(days=7),
    )


def test_a_message_is_queued_with_the_coupon_and_only_members_with_consent_will_get_it(birthday_tomorrow, clock):
    wang, li = birthday_tomorrow
    message = MessageTemplateFactory(body="{name}生日快乐！{coupon_name}券码{coupon_code}")
    automation = AutomationFactory(
        points=0, coupon_template=CouponTemplateFactory(name="生日礼券"), message_template=message
    )

    result = automation_run(automation, now=clock.now)

    queued = Message.objects.get(member=wang)
    coupon = Coupon.objects.get(member=wang)
    assert queued.status == "queued" and coupon.code in queued.body and queued.automation == automation
    assert Message.objects.get(member=li).status == "no_consent"
    assert AutomationEffect.objects.get(member=wang).message == queued
    assert result.messages == 1


def test_in_quiet_hours_the_message_waits_until_they_end(birthday_tomorrow, clock):
    clock.set(local(2026, 3, 15, 22, 30))
    automation = AutomationFactory(
        points=0, message_template=MessageTemplateFactory(), quiet_start=time(21, 0), quiet_end=time(9, 0)
    )

    automation_run(automation, now=clock.now)

    message = Message.objects.get(member=birthday_tomorrow[0])
    assert message.send_after == local(2026, 3, 16, 9, 0)
    assert (message.quiet_start, message.quiet_end) == (time(21, 0), time(9, 0))


def test_actions_by_reason_pick_the_members_reasons_actions_and_others_get_the_default(clock, policy, churn_source):
    price, shifted, unknown = (MemberFactory(name=n) for n in ("王芳", "李娜", "张伟"))
    threshold, default = CouponTemplateFactory(name="满200减50"), CouponTemplateFactory(name="立减10元")
    churn_source.update({price.pk: "price_sensitive", shifted.pk: "category_shift", unknown.pk: "long_inactive"})
    automation = AutomationFactory(
        trigger=Trigger.CHURN_RISK,
        days=0,
        points=0,
        coupon_template=default,
        actions_by_reason={
            "price_sensitive": {"coupon_template": threshold.pk},
            "category_shift": {"points": 50, "multiplier": "2", "multiplier_days": 14},
        },
    )

    automation_run(automation, now=clock.now)

    assert Coupon.objects.get(member=price).template == threshold
    assert not Coupon.objects.filter(member=shifted).exists()
    assert PointsAccount.objects.get(pk=shifted.pk).available == 50
    assert PointsBoost.objects.filter(member=shifted, multiplier=Decimal("2")).exists()
    assert Coupon.objects.get(member=unknown).template == default
    assert dict(AutomationEffect.objects.values_list("member__name", "reason")) == {
        "王芳": "price_sensitive",
        "李娜": "category_shift",
        "张伟": "long_inactive",
    }


def test_other_triggers_ask_the_churn_source_for_the_reason_of_win_back_actions(birthday_tomorrow, clock, churn_source):
    wang, li = birthday_tomorrow
    churn_source[wang.pk] = "long_inactive"
    automation = AutomationFactory(points=10, actions_by_reason={"long_inactive": {"points": 300}})

    automation_run(automation, now=clock.now)

    assert PointsAccount.objects.get(pk=wang.pk).available == 300
    assert PointsAccount.objects.get(pk=li.pk).available == 10


def test_conditions_keep_only_the_members_of_the_segment(birthday_tomorrow, clock, chain, give_points):
    wang, _li = birthday_tomorrow
    segment = Segment.objects.create(
        name="有积分的会员",
        rules=[{"field": "points", "op": "between", "value": {"min": 5}}],
        created_by=chain.marketer,
    )
    give_points(wang, 10)
    automation = AutomationFactory(segment=segment)

    result = automation_run(automation, now=clock.now)

    assert list(AutomationEffect.objects.values_list("member", flat=True)) == [wang.pk]
    assert (result.found, result.not_in_segment, result.reached) == (2, 1, 1)


def test_the_frequency_cap_skips_members_reached_often_enough_within_its_days(clock, policy, checkout):
    from tests.campaigns.conftest import line

    member = MemberFactory(name="王芳", birthday=date(1990, 3, 16))
    checkout(member, [line("饮品", 50)], cash=50)
    dormant = AutomationFactory(trigger=Trigger.DORMANT, days=1, max_per_member=1, cap_days=30, points=5)
    automation_run(dormant, now=clock.set(local(2026, 3, 17, 12)))
    checkout(member, [line("饮品", 50)], cash=50)

    result = automation_run(dormant, now=clock.set(local(2026, 3, 20, 12)))

    assert result.capped == 1 and result.reached == 0
    effects = AutomationEffect.objects.filter(automation=dormant).order_by("created_at")
    assert list(effects.values_list("skipped", flat=True)) == ["", "frequency_cap"]
    assert PointsAccount.objects.get(pk=member.pk).available == 50 + 5 + 50


def test_held_out_members_are_recorded_and_get_nothing_the_same_ones_every_time(clock, policy):
    members = [MemberFactory(name="王芳", birthday=date(1990, 3, 16)) for _ in range(40)]
    automation = AutomationFactory(points=10, holdout_percent=Decimal("25"))

    result = automation_run(automation, now=clock.now)

    held = set(
        AutomationEffect.objects.filter(automation=automation, skipped="holdout").values_list("member", flat=True)
    )
    assert held == {m.pk for m in members if is_held_out(automation, m.pk)}
    assert 0 < result.held_out == len(held) < 40 and result.reached == 40 - len(held)
    assert not PointsEntry.objects.filter(member_id__in=held, kind="behaviour").exists()


def test_a_second_run_reaches_nobody_again(birthday_tomorrow, clock):
    automation = AutomationFactory(
        points=10, coupon_template=CouponTemplateFactory(), message_template=MessageTemplateFactory()
    )
    automation_run(automation, now=clock.now)

    again = automation_run(automation, now=clock.now + timedelta(hours=1))

    assert (again.found, again.already_reached, again.reached) == (2, 2, 0)
    assert AutomationEffect.objects.count() == 2 and Coupon.objects.count() == 2 and Message.objects.count() == 2


def test_when_the_coupon_cannot_be_issued_the_members_get_nothing_and_the_effect_says_why(birthday_tomorrow, clock):
    template = CouponTemplateFactory(total_quantity=1)
    automation = AutomationFactory(points=10, coupon_template=template)

    result = automation_run(automation, now=clock.now)

    assert result.skipped == {"coupon_quantity_exhausted": 2} and result.reached == 0
    assert set(AutomationEffect.objects.values_list("skipped", "points")) == {("coupon_quantity_exhausted", 0)}
    assert not PointsEntry.objects.filter(kind="behaviour").exists() and not Coupon.objects.exists()


def test_a_dry_run_counts_whom_it_would_reach_and_writes_nothing(birthday_tomorrow, clock):
    automation = AutomationFactory(points=10, holdout_percent=Decimal("0"))

    result = automation_run(automation, now=clock.now, dry_run=True)

    assert result.reached == 2
    assert not AutomationEffect.objects.exists() and not PointsEntry.objects.filter(kind="behaviour").exists()


def test_the_scheduled_run_takes_active_automations_only(birthday_tomorrow, clock):
    active = AutomationFactory(points=10)
    AutomationFactory(points=10, is_active=False)

    results = automations_run(now=clock.now)

    assert [r.automation_id for r in results] == [active.pk]
