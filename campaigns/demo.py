"""Demo message templates: what a chain's marketers write first (points reminder, coupon, birthday)."""

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
