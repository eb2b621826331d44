"""The store tablet in real Chromium at 1024×768: a cashier's day at the till, online and offline.

Screenshots of every page go to test-artifacts/screenshots/tablet-*.png."""

from decimal import Decimal

import pytest

from campaigns.models import Coupon
from loyalty.models import PointsAccount, Refund, Sale, TopUp
from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout
from members.models import Member
from members.selectors import phone_q
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, RechargePackageFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
# The service worker has kept the app shell (3 pages and their assets).
SHELL_CACHED = """async () => {
  const names = await caches.keys();
  return names.length > 0 && (await (await caches.open(names[0])).keys()).length >= 10;
}"""


@pytest.fixture
def shop(chain):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    RechargePackageFactory()
    member = MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)
    # 1,000 points to spend: a big first purchase.
    sale_checkout(
        request_id="browser-seed-0001",
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal("1000.00"))],
        tenders=[TenderInput("cash", Decimal("1000.00"))],
    )
    return member


def points(member) -> int:
    return PointsAccount.objects.get(pk=member.pk).available


def log_in_at_till(page, live_server, username):
    page.goto(f"{live_server.url}/tablet/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/tablet/")


def test_a_cashier_finds_and_registers_members_in_chinese(live_server, chain, shop, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    page.goto(f"{live_server.url}/tablet/")
    screenshot(page, "tablet-login-zh")
    log_in_at_till(page, live_server, "cashier_a")
    screenshot(page, "tablet-find-zh")

    page.fill("#q", "1381234")
    page.wait_for_selector(".results .result")
    assert "138****5678" in page.inner_text("#results")
    screenshot(page, "tablet-find-results-zh")

    page.goto(f"{live_server.url}/tablet/register/")
    page.fill("input[name=phone]", "13812345678")
    page.fill("input[name=name]", "李娜")
    page.check("input[name=terms]")
    page.click("button[type=submit]")
    page.wait_for_selector("#existing-member")
    screenshot(page, "tablet-register-duplicate-zh")
    page.click("#existing-member a")
    page.wait_for_selector("#points-available")
    assert page.inner_text("#points-available") == "1000"

    page.goto(f"{live_server.url}/tablet/register/")
    page.fill("input[name=phone]", "139 0000 1111")
    page.fill("input[name=name]", "李娜")
    page.click("text=女")
    page.check("input[name=terms]")
    screenshot(page, "tablet-register-zh")
    page.click("button[type=submit]")
    page.wait_for_selector("#points-available")
    screenshot(page, "tablet-member-card-zh")
    assert Member.objects.get(phone_q("+8613900001111")).registration_store == chain.store_a


def test_a_cashier_refunds_with_a_managers_approval_and_tops_up(live_server, chain, shop, tablet_page, screenshot):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server, "cashier_a")
    sale = Sale.objects.get(request_id="browser-seed-0001")

    page.goto(f"{live_server.url}/tablet/sales/")
    screenshot(page, "tablet-sales-en")
    page.goto(f"{live_server.url}/tablet/sales/{sale.pk}/refund/")
    page.click("text=Some lines")
    page.fill("input[name=line_1]", "0.5")
    page.fill("input[name=reason]", "half returned")
    page.fill("input[name=approver_username]", "manager_a")
    page.fill("input[name=approver_password]", PASSWORD)
    screenshot(page, "tablet-refund-en")
    page.dblclick("button[type=submit]")
    page.wait_for_selector("#receipt")
    screenshot(page, "tablet-receipt-refunded-en")
    assert Refund.objects.filter(sale=sale).count() == 1
    assert points(shop) == 500

    page.goto(f"{live_server.url}/tablet/m/{shop.code}/top-up/")
    page.click("text=充500送50")
    page.click("text=WeChat Pay / Alipay")
    screenshot(page, "tablet-top-up-en")
    page.click("button[type=submit]")
    page.wait_for_selector("#stored-value")
    assert page.inner_text("#stored-value") == "¥550.00"
    assert TopUp.objects.filter(member=shop).count() == 1


def ring_up(page, price, *, points=None, coupon=None, stored_value=None):
    page.fill("#lines .line [name=unit_price]", price)
    if coupon:
        page.click(f"#coupons .coupon:has-text('{coupon}')")
    if points is not None:
        page.fill("#points-number", str(points))
        page.press("#points-number", "Tab")
    if stored_value is not None:
        page.fill("#stored-value", stored_value)
    page.wait_for_function("() => !document.getElementById('checkout').disabled")
    page.wait_for_timeout(400)  # the quote after the last change


def test_a_cashier_sells_with_points_and_a_coupon_and_a_double_tap_sells_once(
    live_server, chain, shop, tablet_page, screenshot
):
    coupon = CouponFactory(member=shop)
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server, "cashier_a")
    page.goto(f"{live_server.url}/tablet/m/{shop.code}/")
    page.click("#sell-button")
    page.wait_for_selector("#coupons .coupon")

    ring_up(page, "300", coupon=coupon.code, points=500)
    page.wait_for_function("() => document.getElementById('t-due').textContent === '¥245.00'")
    assert page.inner_text("#t-coupon") == "−¥50.00"
    assert page.inner_text("#t-points") == "−¥5.00"
    assert page.inner_text("#t-earn") == "+245"
    screenshot(page, "tablet-sell-zh")
    page.click("#checkout")
    page.wait_for_selector("#confirm[open]")
    screenshot(page, "tablet-sell-confirm-zh")
    page.dblclick("#confirm-sale")
    page.wait_for_selector("#receipt")
    screenshot(page, "tablet-receipt-zh")

    sale = Sale.objects.exclude(request_id="browser-seed-0001").get()
    assert (sale.points_redeemed, sale.coupon_discount, sale.total_due) == (500, Decimal("50.00"), Decimal("245.00"))
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.USED
    assert points(shop) == 1000 - 500 + 245
    assert page.inner_text("#receipt-total") == "¥245.00"

    # The back button after a sale does not ring it up again.
    page.go_back()
    page.wait_for_load_state()
    assert Sale.objects.count() == 2


def test_points_beyond_the_balance_are_held_to_what_the_member_has(live_server, chain, shop, tablet_page, screenshot):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server, "cashier_a")
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    page.wait_for_selector("#member-tools:not(.hidden)")

    ring_up(page, "5000", points=99999)

    assert page.input_value("#points-number") == "1000"
    assert page.inner_text("#t-due") == "¥4990.00"
    screenshot(page, "tablet-sell-points-capped-en")


def test_offline_sales_are_queued_and_sent_once_when_the_network_returns(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("zh-CN")
    context = page.context
    log_in_at_till(page, live_server, "cashier_a")
    page.goto(f"{live_server.url}/tablet/m/{shop.code}/")  # the tablet now remembers 王芳
    page.evaluate("() => navigator.serviceWorker.ready")
    page.goto(f"{live_server.url}/tablet/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_function(SHELL_CACHED)

    context.set_offline(True)
    page.wait_for_selector("#net-banner", state="visible")
    page.fill("#q", "13812345678")
    page.press("#q", "Enter")
    page.wait_for_selector(".results .result")
    screenshot(page, "tablet-offline-find-zh")
    page.click(".results .result")
    page.wait_for_selector("#member-tools:not(.hidden)")  # the sell page from the service worker, 王芳 from IndexedDB
    assert "王芳" in page.inner_text("#member-box")

    ring_up(page, "100", points=200)
    assert page.is_visible("#estimate-note")
    page.click("#checkout")
    page.dblclick("#confirm-sale")
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    screenshot(page, "tablet-offline-queued-zh")
    page.click("#queued-new-sale")
    ring_up(page, "35.50")
    page.click("#checkout")
    page.click("#confirm-sale")
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    assert page.inner_text("#queue-count") == "2"
    screenshot(page, "tablet-offline-two-queued-zh")
    assert Sale.objects.count() == 1

    context.set_offline(False)
    page.wait_for_selector("#queue-button", state="hidden", timeout=30000)
    screenshot(page, "tablet-offline-synced-zh")

    synced = Sale.objects.exclude(request_id="browser-seed-0001").order_by("pk")
    assert [s.total_due for s in synced] == [Decimal("98.00"), Decimal("35.50")]
    assert synced[0].member == shop and synced[0].points_redeemed == 200
    assert synced[1].member is None
    # Sending the queue again (another tab, a retry) changes nothing.
    page.evaluate("() => window.Tablet.syncNow()")
    page.reload()
    page.wait_for_timeout(1000)
    assert Sale.objects.count() == 3


def test_a_queued_sale_whose_points_were_spent_elsewhere_is_recorded_without_them_and_flagged(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("en-US")
    context = page.context
    log_in_at_till(page, live_server, "manager_a")
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    page.wait_for_selector("#member-tools:not(.hidden)")

    context.set_offline(True)
    page.wait_for_selector("#net-banner", state="visible")
    ring_up(page, "100", points=500)
    page.click("#checkout")
    page.click("#confirm-sale")
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    # Meanwhile the member spends their points elsewhere (HQ takes them all here).
    points_adjust(
        request_id="other-till-0001", member=shop, points=-1000, reason="spent elsewhere", actor=chain.hq_admin
    )

    context.set_offline(False)
    page.wait_for_selector("#queue-button", state="hidden", timeout=30000)
    assert "waits for the manager" in page.inner_text("#sync-banner")

    flagged = Sale.objects.exclude(request_id="browser-seed-0001").get()
    assert flagged.points_redeemed == 0
    assert flagged.review_state == "pending"
    assert flagged.total_due == Decimal("95.00")
    page.goto(f"{live_server.url}/tablet/reviews/")
    screenshot(page, "tablet-reviews-en")
    page.fill(f"#review-{flagged.pk} input[name=note]", "Member paid the ¥5 in cash")
    page.click(f"#review-{flagged.pk} button")
    page.wait_for_selector("text=Nothing to review.")
    flagged.refresh_from_db()
    assert flagged.review_state == "resolved"


def test_a_session_that_expires_mid_sale_keeps_the_sale_to_ring_up_after_logging_in(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server, "cashier_a")
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    page.wait_for_selector("#member-tools:not(.hidden)")
    ring_up(page, "60")
    page.context.clear_cookies()  # the session is gone

    page.click("#checkout")
    page.click("#confirm-sale")
    page.wait_for_selector("#login-again")
    screenshot(page, "tablet-session-expired-en")
    assert Sale.objects.count() == 1
    page.click("#login-again")
    page.fill("input[name=username]", "cashier_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_selector("#checkout:not([disabled])")
    assert page.input_value("#lines .line [name=unit_price]") == "60"
    page.click("#checkout")
    page.click("#confirm-sale")
    page.wait_for_selector("#receipt")
    assert Sale.objects.count() == 2


def test_the_manager_sees_todays_figures(live_server, chain, shop, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server, "manager_a")
    page.goto(f"{live_server.url}/tablet/today/")
    screenshot(page, "tablet-today-zh")
    assert page.inner_text("#f-sales") == "1"
    assert page.inner_text("#f-issued") == "1000"


def test_two_tablets_spending_the_same_points_at_once_one_is_told_and_nothing_is_spent_twice(
    live_server, chain, shop, tablet_page, screenshot
):
    first, second = tablet_page("en-US"), tablet_page("en-US")
    for page in (first, second):
        log_in_at_till(page, live_server, "cashier_a")
        page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
        page.wait_for_selector("#member-tools:not(.hidden)")
        ring_up(page, "100", points=1000 if page is first else 500)
        page.click("#checkout")
        page.wait_for_selector("#confirm[open]")

    first.click("#confirm-sale")
    first.wait_for_selector("#receipt")
    second.click("#confirm-sale")
    second.wait_for_function("() => document.getElementById('sell-error').textContent.includes('Not enough points')")
    # Priced again without the points: the cashier sees the new total and confirms that.
    second.wait_for_function("() => document.getElementById('t-due').textContent === '¥100.00'")
    screenshot(second, "tablet-sell-points-gone-en")
    second.click("#checkout")
    second.click("#confirm-sale")
    second.wait_for_selector("#receipt")

    assert points(shop) == 190  # 1,000 spent once (¥10), 90 + 100 earned on what was paid in cash
    assert Sale.objects.count() == 3


def test_a_queued_sale_the_server_refuses_stays_on_the_tablet_to_send_again(
    live_server, chain, shop, tablet_page, screenshot
):
    from members.services import member_set_status

    page = tablet_page("en-US")
    log_in_at_till(page, live_server, "cashier_a")
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    page.wait_for_selector("#member-tools:not(.hidden)")
    page.context.set_offline(True)
    page.wait_for_selector("#net-banner", state="visible")
    ring_up(page, "30")
    page.click("#checkout")
    page.click("#confirm-sale")
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    member_set_status(member=shop, actor=chain.hq_admin, status=Member.Status.FROZEN, reason="lost card")

    page.context.set_offline(False)
    page.wait_for_function("() => document.getElementById('sync-banner').textContent.includes('refused')")
    assert page.inner_text("#queue-count") == "1"
    page.click("#queue-button")
    screenshot(page, "tablet-queue-refused-en")
    member_set_status(member=shop, actor=chain.hq_admin, status=Member.Status.ACTIVE, reason="card found")
    page.click("#queue-list button")
    page.wait_for_selector("#queue-button", state="hidden")
    assert Sale.objects.filter(member=shop).count() == 2
