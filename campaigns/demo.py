"""Demo message templates: what a chain's marketers write first (points reminder, coupon, birthday, tier
keeping), and three automations (a birthday gift, a win-back by churn reason, a tier-keeping coupon)."""

from datetime import time
from decimal import Decimal

from campaigns.models import CouponTemplate, MessageChannel, MessageTemplate
from campaigns.services.messaging import message_template_save
from stores.demo import DemoContext

TEMPLATES = [
    (
        "积分到期提醒",
        MessageChannel.SMS,
        "",
        "{name}您好，您有{points_expiring}积分将于{expiring_on}到期，当前共{points}积分，到店消费可抵现。",
    ),
    (
        "新券到账",
        MessageChannel.SMS,
        "",
        "{name}您好，{coupon_name}已放入您的账户，券码{coupon_code}，{coupon_valid_until}前到{store}使用。",
    ),
    (
        "生日祝福",
        MessageChannel.EMAIL,
        "{name}，生日快乐！",
        "亲爱的{name}：\n\n祝您生日快乐！您是我们的{tier}会员，生日当月到店消费享双倍积分。\n\n{store}",
    ),
    (
        "保级提醒",
        MessageChannel.SMS,
        "",
        "{name}您好，您的{tier}会员资格将于30天内到期评估，届时消费未达标将降级。送您{coupon_name}一张，"
        "券码{coupon_code}，{coupon_valid_until}前到店消费即可保级。",
    ),
]


def demo_messaging(ctx: DemoContext) -> None:
    marketer = ctx.staff["marketer"]
    existing = set(MessageTemplate.objects.filter(name__in=[t[0] for t in TEMPLATES]).values_list("name", flat=True))
    created = 0
    for name, channel, subject, body in TEMPLATES:
        if name in existing:
            continue
        message_template_save(actor=marketer, name=name, channel=channel, subject=subject, body=body)
        created += 1
    ctx.summary.append(f"{len(TEMPLATES)} message templates ({created} new)")


# --- automations ---------------------------------------------------------------------------------

DEMO_COUPONS = [
    # name, amount off, from a spend of, valid days
    ("生日礼券 满100减30", "30.00", "100.00", 30),
    ("回归礼 满200减50", "50.00", "200.00", 14),
    ("回归礼 立减20", "20.00", "0.00", 14),
    ("升级加速券 满300减50", "50.00", "300.00", 30),
]


def _demo_coupon_template(name: str, amount: str, threshold: str, days: int) -> CouponTemplate:
    from decimal import Decimal

    kind = CouponTemplate.Kind.THRESHOLD_OFF if Decimal(threshold) else CouponTemplate.Kind.AMOUNT_OFF
    template, _created = CouponTemplate.objects.get_or_create(
        name=name,
        defaults={"kind": kind, "amount": Decimal(amount), "threshold": Decimal(threshold), "valid_days": days},
    )
    return template


DEMO_AUTOMATIONS = ("生日礼遇", "流失挽回（按原因）", "保级提醒（升级加速券）")


def demo_automations(ctx: DemoContext) -> None:
    """A birthday gift 7 days before (coupon, double points for the week, a greeting); a win-back by churn
    reason: a threshold coupon for the price sensitive, a message pointing to what they used to buy for
    those who moved to other categories, a return gift of coupon and double points for the long inactive;
    and the downgrade warning: 30 days before an evaluation would lower their tier, an 升级加速券 and a
    message. Each is loaded once, by name."""
    from campaigns.models import Automation
    from campaigns.services.automations import automation_activate, automation_save

    marketer = ctx.staff["marketer"]
    existing = set(Automation.objects.filter(name__in=DEMO_AUTOMATIONS).values_list("name", flat=True))
    if existing == set(DEMO_AUTOMATIONS):
        ctx.summary.append("automations already loaded")
        return
    birthday_coupon, winback_coupon, return_coupon, keep_tier_coupon = (
        _demo_coupon_template(*row) for row in DEMO_COUPONS
    )
    greeting = MessageTemplate.objects.filter(name="生日祝福").first()
    new_coupon = MessageTemplate.objects.filter(name="新券到账").first()
    keep_tier = MessageTemplate.objects.filter(name="保级提醒").first()
    recommend = MessageTemplate.objects.filter(name="为您推荐").first() or message_template_save(
        actor=marketer,
        name="为您推荐",
        channel=MessageChannel.SMS,
        body="{name}您好，好久不见！{store}本周上新，您常买的品类有新品，欢迎到店看看。",
    )
    quiet = {"quiet_start": time(21, 0), "quiet_end": time(9, 0)}
    wanted = {
        "生日礼遇": {
            "trigger": Automation.Trigger.BIRTHDAY,
            "days": 7,
            "coupon_template": birthday_coupon,
            "message_template": greeting,
            "multiplier": "2",
            "multiplier_days": 7,
            "holdout_percent": "10",
            **quiet,
        },
        "流失挽回（按原因）": {
            "trigger": Automation.Trigger.CHURN_RISK,
            "coupon_template": return_coupon,
            "message_template": new_coupon,
            "actions_by_reason": {
                "price_sensitive": {"coupon_template": winback_coupon.pk, "message_template": new_coupon.pk},
                "category_shift": {"message_template": recommend.pk},
                "long_inactive": {
                    "coupon_template": return_coupon.pk,
                    "message_template": new_coupon.pk,
                    "multiplier": "2",
                    "multiplier_days": 14,
                },
            },
            "max_per_member": 1,
            "cap_days": 60,
            "holdout_percent": "10",
            **quiet,
        },
        # Once per tier held (the trigger's occurrence): a member who keeps the tier and slips again
        # a year later is warned again.
        "保级提醒（升级加速券）": {
            "trigger": Automation.Trigger.DOWNGRADE_RISK,
            "days": 30,
            "coupon_template": keep_tier_coupon,
            "message_template": keep_tier,
            **quiet,
        },
    }
    for name, fields in wanted.items():
        if name in existing:
            continue
        automation = automation_save(actor=marketer, name=name, **fields)
        automation_activate(automation=automation, actor=marketer)
    ctx.summary.append(
        f"{len(wanted) - len(existing)} automations (birthday gift, win-back by churn reason, "
        "升级加速券 before a downgrade)"
    )


# --- campaigns -----------------------------------------------------------------------------------

DEMO_CAMPAIGN = "双十一会员回馈"


def demo_campaigns(ctx: DemoContext) -> None:
    """One finished campaign over the demo history, with a 20 % holdout group, so that its effect page
    shows real figures: launched 40 days ago for two weeks, a coupon and 50 points each."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import Campaign, CouponTemplate, Segment
    from campaigns.services.campaigns import CampaignFields, campaign_create, campaign_launch, campaigns_run_due

    if Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        ctx.summary.append("1 finished campaign (already there)")
        return
    marketer = ctx.staff["marketer"]
    now = timezone.now()
    starts = (now - timedelta(days=40)).replace(minute=0, second=0, microsecond=0)
    segment, _created = Segment.objects.get_or_create(
        name="全部会员", defaults={"rules": [], "description": "每一位有效会员", "created_by": marketer}
    )
    template = CouponTemplate.objects.create(
        name="会员回馈满100减20",
        kind=CouponTemplate.Kind.THRESHOLD_OFF,
        amount="20.00",
        threshold="100.00",
        valid_days=14,
    )
    campaign = campaign_create(
        actor=marketer,
        fields=CampaignFields(
            name=DEMO_CAMPAIGN,
            segment=segment,
            starts_at=starts,
            ends_at=starts + timedelta(days=14),
            holdout_percent=Decimal("20.0"),
            coupon_template=template,
            points=50,
        ),
    )
    result = campaign_launch(actor=marketer, campaign=campaign, now=starts)
    campaigns_run_due(now=now)
    ctx.summary.append(
        f"1 finished campaign ({result.target} members reached, {result.holdout} held out, {result.coupons} coupons)"
    )
