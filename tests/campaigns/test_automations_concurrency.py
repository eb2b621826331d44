"""An automation run twice at once, each run on its own thread and connection (PostgreSQL only): the
effects are inserted first, ON CONFLICT DO NOTHING, and only the run that inserted a member's effect acts,
so every member gets one coupon, one points award and one message."""

from collections import Counter
from datetime import date

import pytest

from campaigns.models import AutomationEffect, Coupon, Message
from campaigns.services.automations import automation_run, automations_run_event
from loyalty.models import PointsEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import AutomationFactory, CouponTemplateFactory, MessageTemplateFactory
from tests.loyalty.clock import local
from tests.loyalty.test_concurrency import assert_reconciles, outcome, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NOW = local(2026, 3, 15, 12, 0)


def test_an_automation_run_twice_at_once_has_one_effect_per_member(policy):
    members = [MemberFactory(birthday=date(1990, 3, 16), marketing_consent=True) for _ in range(30)]
    automation = AutomationFactory(
        points=88,
        coupon_template=CouponTemplateFactory(total_quantity=30),
        message_template=MessageTemplateFactory(body="{name}生日快乐！券码{coupon_code}"),
    )

    results = race(2, lambda i: automation_run(automation, now=NOW))

    assert {outcome(r) for r in results} == {"ok"}
    assert sorted(r.reached for r in results) == [0, 30]
    assert AutomationEffect.objects.count() == 30
    assert Counter(Coupon.objects.values_list("member_id", flat=True)) == {m.pk: 1 for m in members}
    assert PointsEntry.objects.filter(kind="behaviour").count() == 30
    assert Message.objects.filter(automation=automation).count() == 30
    assert_reconciles()


def test_the_same_event_handled_by_two_workers_at_once_reaches_the_member_once(policy):
    member = MemberFactory()
    automation = AutomationFactory(trigger="after_topup", days=0, points=50, coupon_template=CouponTemplateFactory())

    results = race(
        2, lambda i: automations_run_event(trigger="after_topup", member_id=member.pk, occurrence="topup:1", now=NOW)
    )

    assert {outcome(r) for r in results} == {"ok"}
    assert sorted(r[0].reached for r in results) == [0, 1]
    assert AutomationEffect.objects.filter(automation=automation).count() == 1
    assert Coupon.objects.filter(member=member).count() == 1
    assert PointsEntry.objects.filter(member=member, kind="behaviour").count() == 1
    assert_reconciles()
