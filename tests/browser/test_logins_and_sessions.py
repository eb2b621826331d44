"""Logins, tokens and sessions in real Chromium (issue 16, item 4): a tablet left alone for 15 minutes is
logged out on the server and the sale being rung up survives it; the lockout pages, the HQ's locked logins
and a new integration token as a Chinese reader sees them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.sessions.backends.db import SessionStore

from loyalty.models import Sale
from stores.sessions import SEEN
from tests.browser.test_tablet_sale_drafts import (
    DRAFT_ID,
    PASSWORD,
    PRICE,
    confirm,
    log_in_at_till,
    open_sell_page,
    ring_up,
    sell_page_ready,
)
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(chain):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    return MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)


def new_sales():
    return list(Sale.objects.order_by("pk"))


def leave_the_tablet_alone(page, minutes: int) -> None:
    """As if nobody used this tablet for `minutes`: its session's last use is moved back on the server."""
    [cookie] = [c for c in page.context.cookies() if c["name"] == "sessionid"]
    session = SessionStore(cookie["value"])
    session[SEEN] -= int(timedelta(minutes=minutes).total_seconds())
    session.save()


def test_a_tablet_left_alone_logs_out_on_the_server_and_keeps_the_sale_being_rung_up(
    live_server, chain, shop, tablet_page, screenshot
):
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server)
    open_sell_page(page, live_server, shop)
    ring_up(page, "60")
    request_id = page.evaluate(DRAFT_ID)

    leave_the_tablet_alone(page, 16)
    confirm(page)
    page.wait_for_selector("#login-again")
    screenshot(page, "tablet-idle-timeout-mid-sale-zh")
    assert new_sales() == []
    page.click("#login-again")
    assert "超过 15 分钟未操作，已自动退出" in page.content()
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
    assert sale.request_id == request_id


def guess(page, url: str, username: str, times: int) -> None:
    for n in range(times):
        page.goto(url)
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", f"guess-{n}")
        with page.expect_navigation():
            page.click("#login-form [type=submit], main form button.primary")


def test_lockouts_and_tokens_as_a_chinese_reader_sees_them(live_server, chain, tablet_page, screenshot):
    page = tablet_page("zh-CN")

    guess(page, f"{live_server.url}/tablet/login/", "cashier_a", 5)
    page.wait_for_selector("#locked-out")
    assert "该账号或本设备输错密码次数过多" in page.inner_text("#locked-out")
    screenshot(page, "tablet-login-locked-zh")

    guess(page, f"{live_server.url}/admin/login/", "manager_a", 5)
    page.wait_for_selector("#locked-out")
    screenshot(page, "back-office-login-locked-zh")

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "hq_admin")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("#login-form [type=submit]")
    page.goto(f"{live_server.url}/admin/stores/loginlockout/")
    assert "cashier_a" in page.inner_text("#lockouts-account")
    screenshot(page, "back-office-locked-logins-zh")
    page.fill("#lockouts-account tr:has-text('cashier_a') input[name=reason]", "本人忘记密码，已核实")
    page.click("#lockouts-account tr:has-text('cashier_a') input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert "cashier_a" not in page.inner_text("#lockouts-account")

    page.goto(f"{live_server.url}/admin/stores/integrationtoken/add/")
    page.select_option("select[name=user]", label="cashier_b")
    page.fill("input[name=name]", "线上商城")
    screenshot(page, "back-office-integration-token-add-zh")
    page.click("#content-main form [type=submit]")
    page.wait_for_selector("#new-token")
    assert len(page.inner_text("#new-token")) == 64
    screenshot(page, "back-office-integration-token-made-zh")
    page.goto(f"{live_server.url}/admin/stores/integrationtoken/")
    screenshot(page, "back-office-integration-tokens-zh")
