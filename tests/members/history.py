"""A member with a history in every app, for the 360 page's tests (tests/members/test_member_360.py and
the browser test)."""

import uuid
from datetime import date
from decimal import Decimal

from django.utils import timezone

from analytics.models import MemberScore
from campaigns.services.campaigns import campaign_launch
from loyalty.models import Sale
from loyalty.services import LineInput, TenderInput, sale_checkout, sale_refund, wallet_top_up
from tests.factories import MemberFactory
from tests.factories.campaigns import (
    CampaignFactory,
    CouponFactory,
    CouponTemplateFactory,
    MessageTemplateFactory,
    SegmentFactory,
)
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, RechargePackageFactory, TierFactory


def rid() -> str:
    return str(uuid.uuid4())


def loyalty_rules() -> None:
    LoyaltySettingsFactory()
    EarningRuleFactory()
    TierFactory(code="NORMAL", name="普通会员", rank=0, threshold=Decimal("0.00"))
    TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("100.00"))
    TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000.00"))


def buy(chain, member, amount: str) -> Sale:
    return sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("服装", Decimal("1"), Decimal(amount))],
        tenders=[TenderInput("cash", Decimal(amount))],
    )


def give_history(chain, member, *, campaign_name: str) -> None:
    """A sale (with a partial refund), points, a tier change, a top-up, a coupon, a campaign message."""
    sale = buy(chain, member, "150.00")
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="尺码不合适", amount=Decimal("30.00"))
    wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(),
    )
    CouponFactory(member=member, template=CouponTemplateFactory(name=f"满200减50 {campaign_name}"))
    campaign = CampaignFactory(
        name=campaign_name,
        segment=SegmentFactory(created_by=chain.marketer),
        holdout_percent=Decimal("0"),
        message_template=MessageTemplateFactory(),
    )
    campaign_launch(actor=chain.marketer, campaign=campaign)


def member_with_history(chain):
    """王芳: referred by 李娜, referred 张伟 (who bought) and 刘洋 (who did not); a purchase, points, a tier
    change, stored value, a coupon, a campaign's message, and scores."""
    lina = MemberFactory(phone="13900000001", name="李娜", store=chain.store_a)
    fang = MemberFactory(
        phone="13812345678",
        name="王芳",
        gender="female",
        birthday=date(1990, 5, 17),
        store=chain.store_a,
        referrer=lina,
        marketing_consent=True,
    )
    zhang = MemberFactory(phone="13700000002", name="张伟", store=chain.store_a, referrer=fang)
    MemberFactory(phone="13700000003", name="刘洋", store=chain.store_b, referrer=fang)
    buy(chain, zhang, "50.00")
    give_history(chain, fang, campaign_name="春季焕新")
    MemberScore.objects.create(
        member=fang,
        as_of=timezone.localdate(),
        recency_days=3,
        frequency=1,
        monetary=Decimal("120.00"),
        r_score=5,
        f_score=2,
        m_score=3,
        segment="promising",
        p_alive=0.82,
        expected_purchases_90d=1.4,
        churn_level="medium",
        churn_reason="price_sensitive",
    )
    return fang
