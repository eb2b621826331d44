"""The automation form in Chromium at 1024×768, in English and Chinese: N shown only for the triggers that
have one, the win-back rows by churn reason saved as actions_by_reason, and the effects list."""

from datetime import date

import pytest

from campaigns.models import Automation
from campaigns.services.automations import automation_run
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.campaigns import AutomationFactory, CouponTemplateFactory, MessageTemplateFactory
from tests.factories.loyalty import LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fits(page) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 1024)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
    )
    return True


def test_a_marketer_builds_a_win_back_automation_by_reason_in_english(live_server, chain, tablet_page, screenshot):
    threshold = CouponTemplateFactory(name="满200减50")
    gift = CouponTemplateFactory(name="回归礼 立减20")
    recommend = MessageTemplateFactory(name="为您推荐")
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/automation/add/")

    assert page.locator(".form-row.field-days").is_visible()
    page.fill("#id_name", "流失挽回")
    page.select_option("#id_trigger", "churn_risk")
    assert not page.locator(".form-row.field-days").is_visible()
    page.select_option("#id_coupon_template", str(gift.pk))
    page.select_option("#id_reason_price_sensitive_coupon_template", str(threshold.pk))
    page.select_option("#id_reason_category_shift_message_template", str(recommend.pk))
    page.select_option("#id_reason_long_inactive_coupon_template", str(gift.pk))
    page.select_option("#id_reason_long_inactive_multiplier", "2")
    page.fill("#id_reason_long_inactive_multiplier_days", "14")
    page.locator("fieldset.winback").scroll_into_view_if_needed()
    screenshot(page, "admin-automation-winback-en")
    assert fits(page)
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")

    automation = Automation.objects.get()
    assert automation.actions_by_reason == {
        "price_sensitive": {"coupon_template": threshold.pk},
        "category_shift": {"message_template": recommend.pk},
        "long_inactive": {"coupon_template": gift.pk, "multiplier": "2", "multiplier_days": 14},
    }
    assert automation.is_active is False


def test_the_form_shows_its_errors_in_the_win_back_row(live_server, chain, tablet_page, screenshot):
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/automation/add/")
    page.fill("#id_name", "生日礼遇")
    page.select_option("#id_trigger", "birthday")
    page.fill("#id_days", "7")
    page.fill("#id_points", "100")
    page.select_option("#id_reason_long_inactive_multiplier", "2")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")

    row_error = page.locator("fieldset.winback .errorlist").first
    assert "how many days" in row_error.inner_text()
    assert not Automation.objects.exists()
    page.locator("fieldset.winback").scroll_into_view_if_needed()
    screenshot(page, "admin-automation-winback-error-en")


def test_the_automation_and_its_effects_in_chinese(live_server, chain, tablet_page, screenshot):
    LoyaltySettingsFactory()
    for phone, name in (("13800138000", "王芳"), ("13900139000", "李娜"), ("13700137000", "张伟")):
        MemberFactory(phone=phone, name=name, birthday=date.today(), marketing_consent=True)
    automation = AutomationFactory(
        name="生日礼遇",
        days=0,
        coupon_template=CouponTemplateFactory(name="生日礼券 满100减30"),
        message_template=MessageTemplateFactory(name="生日祝福", body="{name}生日快乐！{coupon_name}已到账"),
        created_by=chain.marketer,
    )
    automation_run(automation)
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")

    page.goto(f"{live_server.url}/admin/campaigns/automation/{automation.pk}/change/")
    screenshot(page, "admin-automation-change-zh")
    assert fits(page)
    page.locator("fieldset.winback").scroll_into_view_if_needed()
    screenshot(page, "admin-automation-winback-zh")
    page.goto(f"{live_server.url}/admin/campaigns/automation/")
    assert fits(page)
    screenshot(page, "admin-automations-zh")
    page.goto(f"{live_server.url}/admin/campaigns/automation/{automation.pk}/effects/")
    content = page.content()
    assert "王芳" in content and "138****8000" in content and "13800138000" not in content
    assert fits(page)
    screenshot(page, "admin-automation-effects-zh")
    page.goto(f"{live_server.url}/admin/campaigns/automation/{automation.pk}/dry-run/")
    assert fits(page)
    screenshot(page, "admin-automation-dry-run-zh")
