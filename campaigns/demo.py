"""Demo message templates: what a chain's marketers write first (points reminder, coupon, birthday)."""

from decimal import Decimal

from campaigns.models import MessageChannel, MessageTemplate
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
