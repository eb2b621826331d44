"""The HQ home in Chinese names a cashier who looked at far more members than their store serves, and
leads to their access log; the cashier's lookups at the till are what put them there."""

import re

import pytest
from django.urls import reverse

from members.models import Member, MemberAccess
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def log_in(page, live_server, username, path="/admin/login/"):
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form [type=submit], form button.primary")
    page.wait_for_load_state()


def test_a_cashier_stepping_through_names_is_listed_on_the_hq_home(
    live_server, chain, tablet_page, screenshot, settings
):
    settings.MEMBER_ACCESS_WATCH_MIN = 5
    cashier = chain.cashier_a
    cashier.first_name, cashier.last_name = "丽", "王"
    cashier.save()
    for n, surname in enumerate("王李张刘陈杨赵黄"):
        MemberFactory(phone=f"+86139000000{n:02d}", name=f"{surname}芳", store=chain.store_b)

    till = tablet_page("zh-CN")
    log_in(till, live_server, "cashier_a", "/tablet/login/")
    for surname in "王李张刘陈杨赵黄":
        till.goto(f"{live_server.url}{reverse('tablet:find')}")
        # Typing searches as it goes (htmx, after a pause); Enter as well would race it and look twice.
        till.fill("#q", surname)
        till.wait_for_selector(".meta")
    assert MemberAccess.objects.filter(staff=cashier).values("member").distinct().count() == Member.objects.count()

    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    flag = page.locator("#access-watch .access-flag")
    assert flag.count() == 1
    assert "王丽" in flag.inner_text() and "近 7 天查看了 8 位会员" in flag.inner_text()
    screenshot(page, "admin-home-access-watch-zh")

    flag.locator("a").click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 8
    # No phone, full or masked (a random member code may well contain "139").
    assert not re.search(r"139\d{8}|139\*{4}", page.locator("#result_list").inner_text())
    screenshot(page, "admin-access-log-zh")
