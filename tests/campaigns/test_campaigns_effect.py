"""The effect of a campaign and of an automation on a hand-computed example: revenue net of refunds
in the window, against the holdout group, the cost of coupons and points, the ROI."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Automation, AutomationEffect, Campaign, CampaignMember
from campaigns.selectors.effect import automation_effect, campaign_effect
from campaigns.services.campaigns import campaign_points_award
from loyalty.services import sale_refund
from tests.campaigns.conftest import line, rid
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, CouponFactory, CouponTemplateFactory, SegmentFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db


@pytest.fixture
def launched(chain, clock, policy):
    """Launched on 03-14 for two weeks: 甲 and 乙 in the target group, 丙 and 丁 held out, 100 points each."""

    def _launched(*, holdout: bool = True):
        members = [MemberFactory(name=n) for n in ("甲", "乙", "丙", "丁")]
        starts = local(2026, 3, 14, 0, 0)
        campaign = CampaignFactory(
            segment=SegmentFactory(created_by=chain.marketer),
            starts_at=starts,
            ends_at=starts + timedelta(days=14),
            status=Campaign.Status.RUNNING,
            launched_at=starts,
            points=100,
            target_count=2 if holdout else 4,
            holdout_count=2 if holdout else 0,
        )
        for i, member in enumerate(members):
            group = "holdout" if holdout and i >= 2 else "target"
            CampaignMember.objects.create(campaign=campaign, member=member, group=group)
        return campaign, members

    return _launched


def test_the_effect_of_a_campaign_on_a_hand_computed_example(chain, clock, launched, checkout):
    # Given: 甲 uses the campaign's 满200减50 on ¥250 (pays 200), 乙 buys ¥100 and returns ¥40,
    # 丙 (held out) buys ¥80, and before the window 丁 bought ¥500.
    campaign, (jia, yi, bing, ding) = launched()
    clock.set(local(2026, 3, 10))
    checkout(ding, [line("服装", 500)], cash=500)
    clock.set(local(2026, 3, 15, 12))
    coupon = CouponFactory(member=jia, campaign=campaign, template=CouponTemplateFactory())
    checkout(jia, [line("服装", 250)], coupons=[coupon.code], cash=200)
    sale = checkout(yi, [line("服装", 100)], cash=100)
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("40.00"))
    checkout(bing, [line("服装", 80)], cash=80)
    campaign_points_award(campaign=campaign)  # 100 points each to 甲 and 乙: ¥2.00 at 100 points per ¥1
    clock.set(local(2026, 3, 16, 12))

    effect = campaign_effect(campaign)

    # Then: target ¥260 over 2 members = 130 each, holdout ¥80 over 2 = 40 each; (130 − 40) × 2 = 180.
    assert (effect.target.members, effect.target.buyers, effect.target.sales) == (2, 2, 2)
    assert (effect.target.revenue, effect.target.revenue_per_member) == (Decimal("260.00"), Decimal("130.00"))
    assert (effect.holdout.members, effect.holdout.buyers, effect.holdout.sales) == (2, 1, 1)
    assert (effect.holdout.revenue, effect.holdout.revenue_per_member) == (Decimal("80.00"), Decimal("40.00"))
    assert effect.incremental_revenue == Decimal("180.00")
    assert (effect.coupons_issued, effect.coupons_redeemed, effect.redemption_rate) == (1, 1, Decimal("1.0000"))
    assert (effect.coupon_cost, effect.points_awarded, effect.points_cost) == (Decimal("50.00"), 200, Decimal("2.00"))
    assert effect.cost == Decimal("52.00")
    assert effect.roi == Decimal("2.4615")  # (180 − 52) / 52
    assert effect.live and effect.measured and effect.roi_reason == ""
    assert [(d.day.isoformat(), d.target, d.holdout) for d in effect.series] == [
        ("2026-03-14", Decimal("0.00"), Decimal("0.00")),
        ("2026-03-15", Decimal("130.00"), Decimal("40.00")),
        ("2026-03-16", Decimal("0.00"), Decimal("0.00")),
    ]


def test_without_a_holdout_group_the_effect_says_it_cannot_be_measured(chain, clock, launched, checkout):
    campaign, (jia, *_rest) = launched(holdout=False)
    checkout(jia, [line("服装", 300)], cash=300)
    clock.advance(hours=1)

    effect = campaign_effect(campaign)

    assert effect.target.revenue == Decimal("300.00")
    assert effect.incremental_revenue is None and effect.roi is None
    assert "no holdout group" in effect.roi_reason


def test_without_any_cost_the_roi_is_none_and_says_why(chain, clock, launched):
    campaign, _members = launched()
    Campaign.objects.filter(pk=campaign.pk).update(points=0)
    campaign.refresh_from_db()

    effect = campaign_effect(campaign)

    assert effect.cost == Decimal("0.00") and effect.roi is None
    assert "ROI needs a cost" in effect.roi_reason


def test_a_campaign_not_launched_has_no_effect_yet(chain, clock, policy):
    campaign = CampaignFactory(segment=SegmentFactory(created_by=chain.marketer))

    effect = campaign_effect(campaign)

    assert (effect.reached, effect.series, effect.measured) == (0, [], False)


def test_the_effect_costs_a_constant_number_of_queries(chain, clock, launched, checkout, django_assert_num_queries):
    campaign, members = launched()
    for member in members:
        checkout(member, [line("服装", 120)], cash=120)
    clock.advance(hours=1)

    with django_assert_num_queries(6):
        campaign_effect(campaign)


def test_the_effect_of_an_automation_counts_each_reach_over_the_30_days_after_it(chain, clock, policy, checkout):
    # Given: 甲 reached on 03-15 with 200 points, 乙 held out the same day; each buys ¥100 within the 30
    # days, and 甲 ¥999 after them.
    jia, yi = MemberFactory(name="甲"), MemberFactory(name="乙")
    automation = Automation.objects.create(name="生日礼", trigger="birthday", created_by=chain.marketer)
    AutomationEffect.objects.create(automation=automation, member=jia, occurrence="2026", points=200)
    AutomationEffect.objects.create(automation=automation, member=yi, occurrence="2026", skipped="holdout")
    AutomationEffect.objects.create(
        automation=automation, member=MemberFactory(), occurrence="2026", skipped="frequency cap"
    )
    clock.advance(days=3)
    checkout(jia, [line("服装", 150)], cash=150)
    checkout(yi, [line("服装", 100)], cash=100)
    clock.advance(days=31)
    checkout(jia, [line("服装", 999)], cash=999)
    clock.advance(hours=1)

    effect = automation_effect(automation)

    assert (effect.target.members, effect.target.revenue) == (1, Decimal("150.00"))
    assert (effect.holdout.members, effect.holdout.revenue) == (1, Decimal("100.00"))
    assert effect.incremental_revenue == Decimal("50.00")
    assert (effect.points_awarded, effect.cost) == (200, Decimal("2.00"))
    assert effect.roi == Decimal("24.0000")  # (50 − 2) / 2
    assert effect.series[0].day == timezone.localdate(local(2026, 3, 15))
