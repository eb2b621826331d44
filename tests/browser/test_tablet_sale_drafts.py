"""The sell page's draft and its request id, in real Chromium: a request id, once sent or queued, is
never used for another sale, whatever the cashier does between sales (reload, back button, the network
coming and going, an answer that never arrived), and the queue on the tablet never loses a sale.

Every test counts the sales in the database, not only what the page shows."""

from decimal import Decimal

import pytest

from campaigns.models import Coupon
from loyalty.models import PointsAccount, Sale
from loyalty.services import LineInput, TenderInput, sale_checkout
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
SEED = "browser-seed-0001"
PRICE = "#lines .line [name=unit_price]"
# The service worker has kept the app shell (its pages and their assets).
SHELL_CACHED = """async () => {
  const names = await caches.keys();
  return names.length > 0 && (await (await caches.open(names[0])).keys()).length >= 10;
}"""
DRAFT_ID = "() => (JSON.parse(sessionStorage.getItem('tablet.sale-draft') || 'null') || {}).request_id || null"
QUEUED_IDS = "async () => (await window.TabletStore.Queue.all()).map(entry => entry.request_id)"


@pytest.fixture
def shop(chain):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    member = MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)
    # 1,000 points to spend, under a request id the server has seen.
    sale_checkout(
        request_id=SEED,
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal("1000.00"))],
        tenders=[TenderInput("cash", Decimal("1000.00"))],
    )
    return member


def new_sales():
    return list(Sale.objects.exclude(request_id=SEED).order_by("pk"))


def totals(sales):
    return [sale.total_due for sale in sales]


def log_in_at_till(page, live_server, username="cashier_a"):
    page.goto(f"{live_server.url}/tablet/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/tablet/")


def open_sell_page(page, live_server, member):
    page.goto(f"{live_server.url}/tablet/m/{member.code}/")
    page.click("#sell-button")
    sell_page_ready(page)


def sell_page_ready(page):
    page.wait_for_selector("#member-tools:not(.hidden), #queued-receipt:not(.hidden)")


def ring_up(page, price):
    """A one-line sale at `price`, priced (online by the server, offline by the estimate)."""
    page.fill(PRICE, price)
    page.wait_for_function(f"() => document.getElementById('t-due').textContent === '¥{Decimal(price):.2f}'")
    page.wait_for_function("() => !document.getElementById('checkout').disabled")


def confirm(page):
    page.click("#checkout")
    page.wait_for_selector("#confirm[open]")
    page.click("#confirm-sale")


def make_the_shell_work_offline(page, live_server, *members):
    for member in members:
        page.goto(f"{live_server.url}/tablet/m/{member.code}/")  # the tablet now remembers them
    page.evaluate("() => navigator.serviceWorker.ready")
    page.goto(f"{live_server.url}/tablet/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.wait_for_function(SHELL_CACHED)


def go_offline(page):
    page.context.set_offline(True)
    page.wait_for_selector("#net-banner", state="visible")


def back_online_and_synced(page):
    page.context.set_offline(False)
    page.wait_for_selector("#queue-button", state="hidden", timeout=30000)


def assert_a_fresh_draft(page, *spent_ids):
    """The page shows an empty sale whose request id was never sent or queued."""
    assert page.input_value(PRICE) == ""
    draft_id = page.evaluate(DRAFT_ID)
    assert draft_id and draft_id not in spent_ids
    assert draft_id not in page.evaluate(QUEUED_IDS)


def test_two_sales_in_a_row_to_the_same_member_are_both_recorded(live_server, chain, shop, tablet_page):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    open_sell_page(page, live_server, shop)
    first_id = page.evaluate(DRAFT_ID)
    ring_up(page, "100")
    confirm(page)
    page.wait_for_selector("#receipt")

    # Back from the receipt (the sell page gave way to it), and the member's next sale.
    page.go_back()
    page.wait_for_load_state()
    if "/tablet/sell/" in page.url:
        sell_page_ready(page)
        assert_a_fresh_draft(page, first_id)
    page.goto(f"{live_server.url}/tablet/m/{shop.code}/")
    page.click("#sell-button")
    sell_page_ready(page)
    assert_a_fresh_draft(page, first_id)
    ring_up(page, "50")
    confirm(page)
    page.wait_for_selector("#receipt")

    sales = new_sales()
    assert totals(sales) == [Decimal("100.00"), Decimal("50.00")]
    assert sales[0].request_id == first_id and sales[1].request_id != first_id
    assert all(sale.member == shop for sale in sales)


def test_a_sale_whose_answer_was_lost_is_recorded_once_and_the_next_sale_too(live_server, chain, shop, tablet_page):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    dropped = []

    def drop_the_first_answer(route):
        if dropped:
            route.continue_()
            return
        dropped.append(route.request.post_data_json["request_id"])
        route.fetch()  # the server records the sale ...
        route.abort("connectionreset")  # ... and its answer never reaches the tablet

    page.route("**/api/v1/sales/", drop_the_first_answer)
    open_sell_page(page, live_server, shop)
    ring_up(page, "100")
    confirm(page)
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    assert totals(new_sales()) == [Decimal("100.00")]

    # The network is back: the queue sends it again and the server answers the first sale.
    page.evaluate("() => window.Tablet.setOnline(true)")
    page.wait_for_selector("#queue-button", state="hidden", timeout=30000)
    page.goto(f"{live_server.url}/tablet/m/{shop.code}/")
    page.click("#sell-button")
    sell_page_ready(page)
    assert_a_fresh_draft(page, dropped[0])
    ring_up(page, "50")
    confirm(page)
    page.wait_for_selector("#receipt")

    sales = new_sales()
    assert totals(sales) == [Decimal("100.00"), Decimal("50.00")]
    assert sales[0].request_id == dropped[0] and sales[1].request_id != dropped[0]


def test_offline_sales_with_a_reload_and_the_back_button_between_them_are_each_sent_once(
    live_server, chain, shop, tablet_page
):
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server)
    make_the_shell_work_offline(page, live_server, shop)
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    sell_page_ready(page)
    go_offline(page)

    ring_up(page, "100")
    confirm(page)
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    [first_id] = page.evaluate(QUEUED_IDS)
    page.reload()  # the service worker's copy of the page, the member from the tablet's memory
    sell_page_ready(page)
    assert page.is_visible("#member-tools")
    assert_a_fresh_draft(page, first_id)

    ring_up(page, "35.50")
    confirm(page)
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    assert page.inner_text("#queue-count") == "2"
    page.go_back()
    page.wait_for_selector("#q")
    page.go_forward()
    sell_page_ready(page)
    if page.is_visible("#member-tools"):
        assert_a_fresh_draft(page, first_id)
    assert len(page.evaluate(QUEUED_IDS)) == 2
    assert new_sales() == []

    back_online_and_synced(page)
    sales = new_sales()
    assert totals(sales) == [Decimal("100.00"), Decimal("35.50")]
    assert sales[0].request_id == first_id and all(sale.member == shop for sale in sales)


def test_a_reload_right_after_confirming_offline_never_brings_the_sale_back(live_server, chain, shop, tablet_page):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    make_the_shell_work_offline(page, live_server, shop)
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    sell_page_ready(page)
    go_offline(page)

    # The reload lands before, while or after the tablet queues the sale: whichever it is, the sale is
    # queued once or shown again to confirm, and the next draft never carries its id.
    delays = [0, 1, 2, 3, 5, 8, 12, 20]
    prices = [f"{11 + i}" for i in range(len(delays))]
    for price, delay in zip(prices, delays, strict=True):
        ring_up(page, price)
        page.click("#checkout")
        page.wait_for_selector("#confirm[open]")
        with page.expect_navigation():
            page.evaluate(
                """(delay) => {
                  document.getElementById('confirm-sale').click();
                  setTimeout(() => location.reload(), delay);
                }""",
                delay,
            )
        sell_page_ready(page)
        queued = page.evaluate(QUEUED_IDS)
        assert page.evaluate(DRAFT_ID) not in queued
        if page.input_value(PRICE) == price:
            # The reload came first: nothing was queued and the draft is the same sale; confirm it again.
            confirm(page)
            page.wait_for_selector("#queued-receipt:not(.hidden)")
            page.reload()
            sell_page_ready(page)
        assert_a_fresh_draft(page)
    queued = page.evaluate(QUEUED_IDS)
    assert len(set(queued)) == len(prices)

    back_online_and_synced(page)
    sales = new_sales()
    assert sorted(totals(sales)) == [Decimal(price) for price in prices]
    assert sorted(sale.request_id for sale in sales) == sorted(queued)


def test_a_draft_left_behind_by_a_page_closed_right_after_queueing_is_never_restored(
    live_server, chain, shop, tablet_page
):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    make_the_shell_work_offline(page, live_server, shop)
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    sell_page_ready(page)
    go_offline(page)
    ring_up(page, "100")
    draft = page.evaluate("() => sessionStorage.getItem('tablet.sale-draft')")
    confirm(page)
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    [first_id] = page.evaluate(QUEUED_IDS)

    # What a page killed between writing the queue and anything after leaves: the sale queued, its
    # draft still in the tab, its id not yet remembered as spent.
    page.evaluate(
        "(draft) => { sessionStorage.setItem('tablet.sale-draft', draft); localStorage.clear(); }",
        draft,
    )
    page.reload()
    sell_page_ready(page)
    assert_a_fresh_draft(page, first_id)
    ring_up(page, "60")
    confirm(page)
    page.wait_for_selector("#queued-receipt:not(.hidden)")
    assert len(set(page.evaluate(QUEUED_IDS))) == 2

    back_online_and_synced(page)
    assert totals(new_sales()) == [Decimal("100.00"), Decimal("60.00")]


def test_a_sale_refused_because_its_id_was_used_elsewhere_gets_a_new_id_and_is_rung_up(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server)
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    sell_page_ready(page)
    # A draft carrying an id another device already used for another sale (an older tablet's draft).
    page.evaluate(
        """([id, member, store]) => sessionStorage.setItem('tablet.sale-draft', JSON.stringify({
          request_id: id, member: member, store: store, lines: [{category: "饮品", unit_price: "42", quantity: "1"}],
          coupon: "", points: 0, stored_value: "0.00", tender: "cash"}))""",
        [SEED, shop.code, chain.store_a.code],
    )
    page.reload()
    sell_page_ready(page)
    assert page.input_value(PRICE) == "42"
    page.wait_for_function("() => document.getElementById('t-due').textContent === '¥42.00'")

    confirm(page)
    page.wait_for_function("() => document.getElementById('sell-error').textContent.includes('编号')")
    assert not page.is_visible("#confirm")
    assert page.evaluate(DRAFT_ID) != SEED
    screenshot(page, "tablet-sell-id-reused-zh")
    assert new_sales() == []

    page.wait_for_function("() => !document.getElementById('checkout').disabled")
    confirm(page)
    page.wait_for_selector("#receipt")
    [sale] = new_sales()
    assert sale.total_due == Decimal("42.00") and sale.request_id != SEED
    assert Sale.objects.get(request_id=SEED).total_due == Decimal("1000.00")


def test_a_queued_sale_under_an_id_used_elsewhere_is_sent_as_a_new_sale_on_request(
    live_server, chain, shop, tablet_page
):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    sell_page_ready(page)
    # An older tablet queued a second sale under the first one's id.
    page.evaluate(
        """([id, member, store, user]) => window.TabletStore.Queue.add({request_id: id, user: user, store: store,
          total: "30.00", member_name: "王芳", payload: {request_id: id, store: store, member: member,
          lines: [{category: "饮品", quantity: "1", unit_price: "30.00"}], coupon_code: "", points: 0,
          tenders: [{kind: "cash", amount: "30.00"}]}})""",
        [SEED, shop.code, chain.store_a.code, chain.cashier_a.pk],
    )
    page.evaluate("() => window.Tablet.syncNow()")
    page.wait_for_function("() => document.getElementById('sync-banner').textContent.includes('refused')")
    assert new_sales() == []

    page.click("#queue-button")
    page.click("#queue-list button:has-text('Send as a new sale')")
    page.wait_for_selector("#queue-button", state="hidden")
    [sale] = new_sales()
    assert sale.total_due == Decimal("30.00") and sale.request_id != SEED


def test_a_queued_sale_is_never_replaced_by_another_under_the_same_id(live_server, chain, shop, tablet_page):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    page.goto(f"{live_server.url}/tablet/sell/?member={shop.code}")
    sell_page_ready(page)
    outcomes = page.evaluate(
        """async () => {
          const Queue = window.TabletStore.Queue;
          const id = "same-id-0001";
          const sale = (price) => ({request_id: id, payload: {request_id: id, lines: [{unit_price: price}]}});
          const first = await Queue.add(sale("10.00"));
          const again = await Queue.add(sale("10.00"));
          const other = await Queue.add(sale("99.00")).then(() => "replaced", (error) => error.name);
          const held = await Queue.get("same-id-0001");
          return [first, again, other, held.payload.lines[0].unit_price];
        }"""
    )
    assert outcomes == ["added", "kept", "QueueConflict", "10.00"]


def test_clearing_the_sale_empties_it_and_starts_a_new_request_id(live_server, chain, shop, tablet_page, screenshot):
    coupon = CouponFactory(member=shop)
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server)
    open_sell_page(page, live_server, shop)
    page.fill(PRICE, "300")
    page.click(f"#coupons .coupon:has-text('{coupon.code}')")
    page.fill("#points-number", "500")
    page.press("#points-number", "Tab")
    page.wait_for_function("() => document.getElementById('t-due').textContent === '¥245.00'")
    first_id = page.evaluate(DRAFT_ID)
    screenshot(page, "tablet-sell-before-clearing-zh")

    page.click("#clear-sale")
    page.wait_for_function("() => document.getElementById('t-due').textContent === '¥0.00'")
    assert page.input_value(PRICE) == ""
    assert page.is_checked("#coupons input[value='']")
    assert page.input_value("#points-number") == "0"
    assert page.is_disabled("#checkout")
    assert page.evaluate(DRAFT_ID) not in (None, first_id)
    assert "王芳" in page.inner_text("#member-box")
    screenshot(page, "tablet-sell-cleared-zh")

    ring_up(page, "80")
    confirm(page)
    page.wait_for_selector("#receipt")
    [sale] = new_sales()
    assert (sale.total_due, sale.coupon_discount, sale.points_redeemed) == (Decimal("80.00"), 0, 0)
    assert sale.request_id != first_id
    assert Coupon.objects.get(pk=coupon.pk).status == Coupon.Status.ISSUED


def test_a_member_without_points_gets_no_points_slider_online_or_offline(
    live_server, chain, shop, tablet_page, screenshot
):
    newcomer = MemberFactory(phone="13900001111", name="李娜", home_store=chain.store_a)
    assert PointsAccount.objects.filter(pk=newcomer.pk, available__gt=0).count() == 0
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)

    open_sell_page(page, live_server, shop)
    assert page.is_visible("#points")
    open_sell_page(page, live_server, newcomer)
    ring_up(page, "20")
    assert not page.is_visible("#points") and not page.is_visible("#points-number")
    assert page.is_visible("#coupons")
    screenshot(page, "tablet-sell-no-points-en")
    confirm(page)
    page.wait_for_selector("#receipt")

    make_the_shell_work_offline(page, live_server, newcomer)
    go_offline(page)
    page.goto(f"{live_server.url}/tablet/sell/?member={newcomer.code}")  # from the service worker
    sell_page_ready(page)
    ring_up(page, "30")
    assert page.is_visible("#estimate-note")
    assert not page.is_visible("#points")
    screenshot(page, "tablet-sell-no-points-offline-en")


def test_a_session_that_expires_mid_sale_keeps_the_draft_and_its_request_id_until_the_sale_is_recorded(
    live_server, chain, shop, tablet_page
):
    page = tablet_page("en-US")
    log_in_at_till(page, live_server)
    open_sell_page(page, live_server, shop)
    ring_up(page, "60")
    request_id = page.evaluate(DRAFT_ID)
    page.context.clear_cookies()  # the session is gone: the server refuses the sale and records nothing

    confirm(page)
    page.wait_for_selector("#login-again")
    assert new_sales() == []
    page.click("#login-again")
    page.fill("input[name=username]", "cashier_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    sell_page_ready(page)
    assert page.input_value(PRICE) == "60"
    assert page.evaluate(DRAFT_ID) == request_id
    page.wait_for_function("() => !document.getElementById('checkout').disabled")
    confirm(page)
    page.wait_for_selector("#receipt")

    [sale] = new_sales()
    assert (sale.request_id, sale.total_due) == (request_id, Decimal("60.00"))
