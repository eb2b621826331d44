import pytest

from loyalty.models import PointsAccount, PointsEntry
from loyalty.services import wallet_top_up
from stores.models import AuditEntry
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.loyalty import LoyaltySettingsFactory, RechargePackageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(chain):
    LoyaltySettingsFactory()
    member = MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)
    package = RechargePackageFactory()
    wallet_top_up(
        request_id="browser-topup-0001",
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="mobile",
        package=package,
    )
    return member


def balance(member) -> int:
    account = PointsAccount.objects.filter(pk=member.pk).first()
    return account.available if account else 0


def test_hq_adds_points_by_hand_and_a_double_click_adjusts_once(live_server, chain, shop, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/")
    page.click("text=手动调整积分")
    page.wait_for_selector("#id_member")
    page.fill("#id_member", "138 1234 5678")
    page.fill("#id_points", "300")
    page.fill("#id_reason", "补录漏积分")
    screenshot(page, "admin-points-adjust-zh")
    page.dblclick("input[type=submit]")
    page.wait_for_selector(".messagelist")

    assert balance(shop) == 300
    assert PointsEntry.objects.filter(kind="adjust").count() == 1
    assert AuditEntry.objects.filter(action="points.adjusted", actor=chain.hq_admin).count() == 1
    screenshot(page, "admin-points-adjust-done-zh")


def test_a_bad_adjustment_shows_the_reason_on_the_form_and_changes_nothing(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("en-US")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/loyalty/pointsentry/adjust/")
    page.fill("#id_member", "13812345678")
    page.fill("#id_points", "-500")
    page.fill("#id_reason", "wrong entry")
    page.click("input[type=submit]")
    page.wait_for_selector(".errorlist")

    assert "Not enough points" in page.content() or "not enough" in page.content().lower()
    assert balance(shop) == 0
    screenshot(page, "admin-points-adjust-error-en")


def test_a_marketer_reads_the_recharge_report_but_cannot_adjust_points(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("text=手动调整积分").count() == 0
    page.click("text=充值报表")
    page.wait_for_selector("table")
    text = page.content()

    assert chain.store_a.code in text
    assert "500.00" in text
    screenshot(page, "admin-recharge-report-marketer-zh")


def test_the_downgrade_risk_page_warns_before_the_spend_ages_out(live_server, chain, tablet_page, screenshot):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from loyalty.models import MemberDailySpend, MemberStats
    from tests.factories.loyalty import TierFactory

    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0"))
    gold = TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000"))
    today = timezone.localdate()
    member = MemberFactory(phone="13812345678", name="王芳")
    MemberStats.objects.create(member=member, tier=gold, tier_since=timezone.now() - timedelta(days=800))
    # Today the window holds ¥1,200; in five days it no longer does.
    MemberDailySpend.objects.create(member=member, day=today - timedelta(days=360), spend=Decimal("1200"), visits=1)
    MemberDailySpend.objects.create(member=member, day=today - timedelta(days=20), spend=Decimal("150"), visits=1)

    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/loyalty/memberstats/downgrade-risk/")
    page.wait_for_selector("#downgrade-risk")
    text = page.inner_text("#downgrade-risk")

    assert "降级日期" in text and "届时定级值" in text
    assert (today + timedelta(days=5)).isoformat() in text
    assert "¥150.00" in text and "¥850.00" in text
    screenshot(page, "admin-downgrade-risk-zh")
