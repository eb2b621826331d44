from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from campaigns.models import (
    Automation,
    Campaign,
    Coupon,
    CouponTemplate,
    MallItem,
    Message,
    MessageChannel,
    MessageTemplate,
    Segment,
)
from campaigns.services.coupons import coupon_issue
from tests.factories.stores import StaffFactory


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    """A valid template, written directly (message_template_save is what the back office uses)."""

    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"模板{n}")
    channel = MessageChannel.SMS
    body = "{name}您好，您有{points}积分可用。"
    subject = factory.LazyAttribute(lambda t: "{name}，会员消息" if t.channel == MessageChannel.EMAIL else "")
    wechat_template_id = factory.LazyAttribute(lambda t: "TPL-001" if t.channel == MessageChannel.WECHAT else "")


class MessageFactory(factory.django.DjangoModelFactory):
    """An outbox row as the queue services write it: queued, due now, to the member's phone."""

    class Meta:
        model = Message

    channel = MessageChannel.SMS
    purpose = Message.Purpose.MARKETING
    recipient = factory.LazyAttribute(lambda m: m.member.phone)
    body = "王芳您好，您有100积分可用。 回T退订"
    status = Message.Status.QUEUED
    key = factory.Sequence(lambda n: f"test-message:{n}")
    send_after = factory.LazyFunction(timezone.now)


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    """满200减50, valid for 30 days after issue, chain-wide, not stackable."""

    class Meta:
        model = CouponTemplate
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"满200减50 #{n}")
    kind = CouponTemplate.Kind.THRESHOLD_OFF
    amount = Decimal("50.00")
    threshold = Decimal("200.00")
    valid_days = 30

    @factory.post_generation
    def tiers(self, create, extracted, **kwargs):
        if create and extracted:
            self.tiers.set(extracted)

    @factory.post_generation
    def stores(self, create, extracted, **kwargs):
        if create and extracted:
            self.stores.set(extracted)


class PercentOffTemplateFactory(CouponTemplateFactory):
    name = factory.Sequence(lambda n: f"9折券 #{n}")
    kind = CouponTemplate.Kind.PERCENT_OFF
    amount = Decimal("0.00")
    threshold = Decimal("0.00")
    percent_off = Decimal("10.00")


class AmountOffTemplateFactory(CouponTemplateFactory):
    name = factory.Sequence(lambda n: f"立减10元 #{n}")
    kind = CouponTemplate.Kind.AMOUNT_OFF
    amount = Decimal("10.00")
    threshold = Decimal("0.00")


class GiftTemplateFactory(CouponTemplateFactory):
    name = factory.Sequence(lambda n: f"拿铁兑换券 #{n}")
    kind = CouponTemplate.Kind.GIFT
    amount = Decimal("0.00")
    threshold = Decimal("0.00")
    gift_name = "拿铁一杯"
    gift_value = Decimal("32.00")
    categories = factory.LazyFunction(lambda: ["咖啡"])


class CouponFactory(factory.Factory):
    """A coupon issued through campaigns.services.coupons.coupon_issue (by the system)."""

    class Meta:
        model = Coupon

    template = factory.SubFactory(CouponTemplateFactory)
    source = Coupon.Source.CAMPAIGN
    issue_key = factory.Sequence(lambda n: f"test:{n}")

    @classmethod
    def _create(cls, model_class, **kwargs):
        return coupon_issue(**kwargs)


class MallItemFactory(factory.django.DjangoModelFactory):
    """A gift picked up in store: 1,000 points, 10 in stock."""

    class Meta:
        model = MallItem
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"保温杯 #{n}")
    kind = MallItem.Kind.GIFT
    points_price = 1000
    stock = 10
    cost = Decimal("25.00")

    @factory.post_generation
    def tiers(self, create, extracted, **kwargs):
        if create and extracted:
            self.tiers.set(extracted)


class CouponMallItemFactory(MallItemFactory):
    name = factory.Sequence(lambda n: f"10元券 #{n}")
    kind = MallItem.Kind.COUPON
    points_price = 500
    stock = None
    coupon_template = factory.SubFactory(AmountOffTemplateFactory)


class AutomationFactory(factory.django.DjangoModelFactory):
    """An active automation written directly (automation_save is what the back office uses): a birthday
    gift of 100 points, 7 days before, once per member per 30 days."""

    class Meta:
        model = Automation

    name = factory.Sequence(lambda n: f"自动化{n}")
    trigger = Automation.Trigger.BIRTHDAY
    days = 7
    points = 100
    is_active = True
    created_by = factory.LazyFunction(
        lambda: (
            get_user_model().objects.filter(is_superuser=False).order_by("pk").first()
            or get_user_model().objects.create_user(username="automation-owner")
        )
    )


class SegmentFactory(factory.django.DjangoModelFactory):
    """A saved segment, written directly (segment_create is what the back office uses): all members."""

    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"人群{n}")
    rules = factory.LazyFunction(list)
    created_by = factory.LazyFunction(lambda: StaffFactory(role="hq_marketer"))


class CampaignFactory(factory.django.DjangoModelFactory):
    """A draft over a segment of every member, running from now for 14 days, 10 % held out, 100 points."""

    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"活动{n}")
    segment = factory.SubFactory(SegmentFactory)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda c: c.starts_at + timedelta(days=14))
    holdout_percent = Decimal("10.0")
    points = 100
    created_by = factory.SelfAttribute("segment.created_by")
