import pytest

from loyalty.models import EarningRule, LoyaltySettings
from tests.browser.test_back_office import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_day_multiplier_of_zero_is_refused_next_to_its_field_in_chinese(
    live_server, chain, tablet_page, screenshot
):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/loyalty/earningrule/add/")
    page.fill("#id_name", "周三会员日")
    page.select_option("#id_member_day_weekday", "2")
    page.fill("#id_member_day_multiplier", "0")
    page.fill("#id_per_sale_cap", "500")
    page.fill("#id_per_day_cap", "200")
    page.click("input[name=_save]")

    multiplier = page.locator("#id_member_day_multiplier_error")
    multiplier.wait_for()
    assert multiplier.inner_text() == "会员日倍数至少为 1：1 表示正常积分，2 表示双倍积分。"
    assert page.locator("#id_per_sale_cap_error").inner_text() == "每笔上限不能高于每位会员每日上限。"
    content = page.content()
    assert "rule_member_day_multiplier_min" not in content and "rule_caps_ordered" not in content
    assert "约束" not in content
    multiplier.scroll_into_view_if_needed()
    screenshot(page, "admin-earning-rule-refused-zh")
    assert not EarningRule.objects.exists()


def test_a_clearing_date_of_30_february_is_refused_next_to_the_day_in_english(
    live_server, chain, tablet_page, screenshot
):
    settings = LoyaltySettings.current()
    page = tablet_page("en-US")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/loyalty/loyaltysettings/{settings.pk}/change/")
    page.select_option("#id_expiry_policy", "annual")
    page.fill("#id_annual_clearing_month", "2")
    page.fill("#id_annual_clearing_day", "30")
    page.click("input[name=_save]")

    day = page.locator("#id_annual_clearing_day_error")
    day.wait_for()
    assert day.inner_text().startswith("That month has no such day.")
    day.scroll_into_view_if_needed()
    screenshot(page, "admin-clearing-date-refused-en")
    settings.refresh_from_db()
    assert (settings.annual_clearing_month, settings.annual_clearing_day) == (12, 31)
