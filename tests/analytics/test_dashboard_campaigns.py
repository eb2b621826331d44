"""Campaign ROI: the grouped effects agree with campaign_effect / automation_effect campaign by campaign,
in a constant number of queries, and the dashboard shows them for the period."""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import Automation, AutomationEffect, Campaign, CampaignMember, Message, PointsBoost
from campaigns.selectors.effect import automation_effect, automation_effects, campaign_effect, campaign_effects
from campaigns.services.campaigns import campaign_points_award
from tests.analytics import shop_history
from tests.analytics.shop_history import exports_are_audited, read, refund, refused, rows_by, sell, total_of
from tests.factories import MemberFactory
from tests.factories.campaigns import (
    AutomationFactory,
    CampaignFactory,
    CouponFactory,
    CouponTemplateFactory,
    MessageFactory,
    SegmentFactory,
)
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db
clock, rules = shop_history.clock, shop_history.rules  # the fixtures


def launch(chain, name: str, *, starts, days: int = 14, target=(), holdout=(), points: int = 100, **fields):
    campaign = CampaignFactory(
        name=name,
        segment=SegmentFactory(created_by=chain.marketer),
        starts_at=starts,
        ends_at=starts + timedelta(days=days),
        status=Campaign.Status.RUNNING,
        launched_at=starts,
        points=points,
        target_count=len(target),
        holdout_count=len(holdout),
        **fields,
    )
    for member in target:
        CampaignMember.objects.create(campaign=campaign, member=member, group="target")
    for member in holdout:
        CampaignMember.objects.create(campaign=campaign, member=member, group="holdout")
    return campaign


def sells(chain, member, amount, **kw):
    return sell(member, amount, store=chain.store_a, cashier=chain.cashier_a, **kw)


@pytest.fixture
def history(chain, clock, rules):
    """春季焕新 (03-14, two weeks): 甲 乙 targeted, 丙 丁 held out; 甲 uses its 满200减50 on ¥250, 乙 buys ¥100
    and returns ¥40, 丙 buys ¥80; 100 points each to the target group. 双倍积分 (March, ×2, no holdout):
    甲 乙 targeted. 草稿 is not launched; 去年 ran in 2025. 生日礼 reached 甲 (200 points) and held 乙 out
    on 03-15; 回归礼 (×2 for 7 days) reached 丙 on 03-15 with a coupon, and 丁 in February."""
    jia, yi, bing, ding = (MemberFactory(name=n) for n in ("甲", "乙", "丙", "丁"))
    spring = launch(chain, "春季焕新", starts=local(2026, 3, 14, 0, 0), target=[jia, yi], holdout=[bing, ding])
    double = launch(
        chain, "双倍积分", starts=local(2026, 3, 1, 0, 0), days=30, target=[jia, yi], points=0, multiplier=Decimal(2)
    )
    CampaignFactory(name="草稿", segment=SegmentFactory(created_by=chain.marketer))
    launch(chain, "去年", starts=local(2025, 3, 1, 0, 0), target=[jia], holdout=[yi])
    MessageFactory(member=jia, campaign=spring, status=Message.Status.SENT, sent_at=clock.now)
    MessageFactory(member=yi, campaign=spring, status=Message.Status.QUEUED)

    birthday = AutomationFactory(name="生日礼", points=200)
    comeback = AutomationFactory(name="回归礼", points=0, multiplier=Decimal("2.00"), multiplier_days=7)
    clock.set(local(2026, 2, 10))
    AutomationEffect.objects.create(automation=comeback, member=ding, occurrence="2026-02")
    clock.set(local(2026, 3, 15, 9))
    AutomationEffect.objects.create(automation=birthday, member=jia, occurrence="2026", points=200)
    AutomationEffect.objects.create(automation=birthday, member=yi, occurrence="2026", skipped="holdout")
    AutomationEffect.objects.create(automation=birthday, member=bing, occurrence="2026", skipped="frequency cap")
    gift = CouponFactory(member=bing, automation=comeback, template=CouponTemplateFactory(), source="automation")
    AutomationEffect.objects.create(automation=comeback, member=bing, occurrence="2026-03", coupon=gift)
    PointsBoost.objects.create(
        member=bing, automation=comeback, multiplier=2, starts_at=clock.now, ends_at=clock.now + timedelta(days=7)
    )

    clock.set(local(2026, 3, 15, 12))
    coupon = CouponFactory(member=jia, campaign=spring, template=CouponTemplateFactory())
    sells(chain, jia, 250, coupons=[coupon.code], cash=200)
    sale = sells(chain, yi, 100)
    refund(sale, 40, actor=chain.manager_a)
    sells(chain, bing, 280, coupons=[gift.code], cash=230)
    sells(chain, ding, 90)
    campaign_points_award(campaign=spring)
    clock.set(local(2026, 3, 16, 12))
    return {"spring": spring, "double": double, "birthday": birthday, "comeback": comeback}


def test_the_grouped_campaign_effects_agree_with_each_campaigns_own(history, clock, django_assert_num_queries):
    now = timezone.now()
    campaigns = Campaign.objects.order_by("pk")

    with django_assert_num_queries(3):  # the point value, the campaigns with their figures, their sales
        grouped = campaign_effects(campaigns, now=now)

    assert [c.name for c, _e in grouped] == ["春季焕新", "双倍积分", "草稿", "去年"]
    for campaign, effect in grouped:
        assert effect == replace(campaign_effect(campaign, now=now), series=[]), campaign.name
    spring = dict(grouped)[history["spring"]]
    assert (spring.incremental_revenue, spring.cost, spring.roi) == (
        Decimal("-60.00"),
        Decimal("52.00"),
        Decimal("-2.1538"),
    )
    assert spring.messages_sent == 1 and spring.points_awarded == 200
    double = dict(grouped)[history["double"]]
    assert double.boost_points > 0 and not double.measured


def test_the_grouped_automation_effects_agree_with_each_automations_own(history, django_assert_num_queries):
    now = timezone.now()
    automations = Automation.objects.order_by("pk")

    with django_assert_num_queries(2):
        grouped = automation_effects(automations, now=now, point_value=Decimal("0.01"))

    for automation, effect in grouped:
        assert effect == replace(automation_effect(automation, now=now), series=[]), automation.name
    comeback = dict(grouped)[history["comeback"]]
    assert comeback.boost_points > 0 and comeback.coupons_redeemed == 1


def test_the_cohort_of_a_period_counts_only_the_effects_made_in_it(history):
    grouped = dict(
        automation_effects(
            Automation.objects.all(),
            since=local(2026, 3, 1, 0, 0),
            until=local(2026, 4, 1, 0, 0),
            point_value=Decimal("0.01"),
        )
    )

    comeback = grouped[history["comeback"]]
    assert (comeback.reached, comeback.target.revenue) == (1, Decimal("230.00"))  # 丙, not 丁 in February
    birthday = grouped[history["birthday"]]
    assert (birthday.reached, birthday.holdout.members) == (1, 1)
    assert (birthday.target.revenue, birthday.holdout.revenue) == (Decimal("200.00"), Decimal("60.00"))
    assert birthday.incremental_revenue == Decimal("140.00") and birthday.cost == Decimal("2.00")


def test_the_dashboard_shows_the_periods_campaigns_and_automations(client, chain, history):
    board = read(client, chain.marketer, "campaigns").context["board"]

    table = board.table("effects")
    rows = rows_by(table)
    # Campaigns latest first, then the automations that reached someone in March.
    assert list(rows)[:2] == ["春季焕新", "双倍积分"] and set(list(rows)[2:]) == {"回归礼", "生日礼"}
    spring = rows["春季焕新"]
    assert (spring["kind"], spring["start"].isoformat(), spring["reached"], spring["held_out"]) == (
        "Campaign",
        "2026-03-14",
        2,
        2,
    )
    # Target (¥200 + ¥60) / 2 = 130, holdout (丙 ¥230 + 丁 ¥90) / 2 = 160: (130 − 160) × 2 = −60 for ¥52.
    assert (spring["coupons"], spring["target"], spring["holdout"]) == (1, Decimal("130.00"), Decimal("160.00"))
    assert (spring["incremental"], spring["cost"], spring["roi"]) == (
        Decimal("-60.00"),
        Decimal("52.00"),
        Decimal("-215.38"),
    )
    assert rows["双倍积分"]["roi"] is None and "no holdout group" in rows["双倍积分"]["why"]
    birthday = rows["生日礼"]
    assert (birthday["kind"], birthday["reached"], birthday["held_out"]) == ("Automation", 1, 1)
    assert (birthday["incremental"], birthday["cost"], birthday["roi"]) == (
        Decimal("140.00"),
        Decimal("2.00"),
        Decimal("6900.00"),
    )
    assert rows["回归礼"]["reached"] == 1  # 丙 in March; 丁 was reached in February
    total = total_of(table)
    # The measured ones: (−60 + 140 − 52 − 2) / (52 + 2).
    assert (total["reached"], total["incremental"], total["roi"]) == (6, Decimal("80.00"), Decimal("48.15"))
    figures = {f.label: f.value for f in board.figures}
    assert (figures["Campaigns"], figures["Automations"], figures["ROI"]) == (2, 2, Decimal("48.15"))
    assert board.charts and board.charts[0].kind == "bar"


def test_a_period_without_campaigns_renders_nothing(client, chain, history):
    response = read(client, chain.marketer, "campaigns", start="2026-05-01", end="2026-05-31")

    board = response.context["board"]
    assert board.table("effects").rows == [] and board.charts == []
    assert "No campaign ran and no automation reached anyone in this period." in board.notes
    assert "Nothing in this period." in response.content.decode()


def test_the_page_costs_the_same_queries_with_more_campaigns(client, chain, history, clock, django_assert_num_queries):
    read(client, chain.marketer, "campaigns")
    with django_assert_num_queries(9):  # session, user, groups, the form's stores + the dashboard's five
        read(client, None, "campaigns")

    members = [MemberFactory() for _i in range(4)]
    for i in range(3):
        launch(chain, f"加推{i}", starts=local(2026, 3, 2 + i, 0, 0), target=members[:2], holdout=members[2:])
        automation = AutomationFactory(name=f"自动{i}")
        AutomationEffect.objects.create(automation=automation, member=members[i], occurrence="x")
    sells(chain, members[0], 60)
    with django_assert_num_queries(9):
        board = read(client, None, "campaigns").context["board"]
    assert len(board.table("effects").rows) == 10


def test_the_marketer_exports_the_table_and_each_export_is_audited(client, chain, history):
    exports_are_audited(client, chain.marketer, "campaigns", "effects")


def test_store_staff_cannot_read_it(client, chain, history):
    refused(client, chain.manager_a, "campaigns")
    refused(client, chain.cashier_a, "campaigns")
