import pytest

from campaigns.models import Coupon, CouponTemplate
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponTemplateFactory
from tests.factories.loyalty import LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visible(page, field: str) -> bool:
    return page.locator(f".form-row.field-{field}").first.is_visible()


def test_the_template_form_shows_the_fields_of_the_chosen_kind_and_validity(
    live_server, chain, tablet_page, screenshot
):
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/coupontemplate/add/")

    page.select_option("#id_kind", "percent_off")
    assert visible(page, "percent_off") and visible(page, "max_discount") and not visible(page, "amount")
    page.select_option("#id_kind", "gift")
    assert visible(page, "gift_name") and not visible(page, "percent_off")
    page.check("input[name=validity][value=dates]")
    assert visible(page, "valid_until") and not visible(page, "valid_days")

    page.select_option("#id_kind", "percent_off")
    page.fill("#id_name", "夏季9折券")
    page.fill("#id_percent_off", "10")
    page.fill("#id_max_discount", "30")
    page.fill("#id_valid_until_0", "2030-08-31")
    page.fill("#id_valid_until_1", "23:59:00")
    screenshot(page, "admin-coupon-template-percent-en")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")

    template = CouponTemplate.objects.get()
    assert (template.kind, template.percent_off, template.valid_days) == ("percent_off", 10, None)


def test_hq_issues_a_coupon_to_a_member_in_chinese(live_server, chain, tablet_page, screenshot):
    LoyaltySettingsFactory()
    member = MemberFactory(phone="13812345678", name="王芳")
    CouponTemplateFactory(name="满200减50")
    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/campaigns/coupon/")
    page.click("a.addlink[href$='/issue/']")
    page.fill("#id_member", "138 1234 5678")
    screenshot(page, "admin-coupon-issue-zh")
    page.dblclick("input[type=submit]")
    page.wait_for_selector(".messagelist")

    coupon = Coupon.objects.get()
    assert coupon.member == member and coupon.code in page.content()
    page.goto(f"{live_server.url}/admin/campaigns/coupon/")
    assert "138****5678" not in page.content() and coupon.code in page.content()
    screenshot(page, "admin-coupons-zh")
