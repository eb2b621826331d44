from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import CampaignMember
from campaigns.services.campaigns import campaign_launch
from loyalty.models import Sale
from loyalty.services import LineInput, TenderInput, sale_checkout
from tests.browser.test_back_office import log_in
from tests.campaigns.conftest import rid
from tests.factories import MemberFactory
from tests.factories.campaigns import CampaignFactory, CouponTemplateFactory, SegmentFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def campaign_with_sales(chain):
    """Launched ten days ago with a 30 % holdout; both groups buy every other day, the target group more."""
    LoyaltySettingsFactory()
    EarningRuleFactory()
    for i in range(20):
        MemberFactory(name="王芳李娜张伟刘洋陈静杨磊"[i % 10 : i % 10 + 2])
    starts = timezone.now() - timedelta(days=10)
    campaign = CampaignFactory(
        name="春季焕新",
        segment=SegmentFactory(name="全部会员", created_by=chain.marketer),
        starts_at=starts,
        ends_at=starts + timedelta(days=14),
        holdout_percent=Decimal("30.0"),
        coupon_template=CouponTemplateFactory(name="满200减50"),
        points=100,
    )
    campaign_launch(actor=chain.marketer, campaign=campaign, now=starts)
    for day in range(0, 10, 2):
        for row in CampaignMember.objects.filter(campaign=campaign).select_related("member"):
            amount = Decimal("180.00") if row.group == "target" else Decimal("120.00")
            sale = sale_checkout(
                request_id=rid(),
                store=chain.store_a,
                cashier=chain.cashier_a,
                member=row.member,
                lines=[LineInput("服装", Decimal("1"), amount)],
                tenders=[TenderInput("cash", amount)],
            )
            Sale.objects.filter(pk=sale.pk).update(created_at=starts + timedelta(days=day, hours=3))
    campaign.refresh_from_db()
    return campaign


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_effect_page_shows_target_against_holdout_with_a_chart(
    live_server, chain, tablet_page, screenshot, campaign_with_sales, locale
):
    page = tablet_page(locale)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign_with_sales.pk}/change/")
    screenshot(page, f"admin-campaign-change-{locale}")
    page.click("a[href$='/effect/']")
    page.wait_for_selector("svg.effect-chart")

    assert page.locator("svg.effect-chart polyline").count() == 2
    assert page.locator("meta[http-equiv=refresh]").count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, f"the effect page is {width} px wide"
    screenshot(page, f"admin-campaign-effect-{locale}")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    screenshot(page, f"admin-campaign-effect-chart-{locale}")


def test_the_campaign_page_says_how_many_of_the_segment_can_use_its_coupon(live_server, chain, tablet_page, screenshot):
    from loyalty.models import MemberStats
    from tests.factories.loyalty import TierFactory

    LoyaltySettingsFactory()
    silver = TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000.00"))
    gold = TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000.00"))
    for i in range(20):
        member = MemberFactory(name="王芳李娜张伟刘洋陈静杨磊"[i % 10 : i % 10 + 2])
        MemberStats.objects.update_or_create(member=member, defaults={"tier": gold if i == 0 else silver})
    campaign = CampaignFactory(
        name="金卡会员日",
        segment=SegmentFactory(name="全部会员", created_by=chain.marketer),
        coupon_template=CouponTemplateFactory(name="金卡专享满200减50", tiers=[gold]),
        points=0,
        created_by=chain.marketer,
    )
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")

    note = page.locator("#campaign-coupon-audience").inner_text()
    assert "受众 20 人中，1 人可以使用此券（排除 19 人：银卡 19 人）。" in note
    assert page.locator("#id_coupon_to_everyone").count() == 1
    page.locator("#campaign-coupon-audience").scroll_into_view_if_needed()
    screenshot(page, "admin-campaign-coupon-audience-zh-CN")
