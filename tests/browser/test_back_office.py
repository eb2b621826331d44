import pytest

from tests.factories import MemberFactory, TagFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def shop(chain):
    vip = TagFactory(name="VIP")
    MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a, tags=[vip])
    MemberFactory(phone="13812340000", name="王小明", home_store=chain.store_a)
    MemberFactory(phone="13900001111", name="李娜", home_store=chain.store_b)
    return chain


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_hq_admin_finds_a_member_by_phone_prefix_in_chinese(live_server, shop, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    assert "会员" in page.content()
    screenshot(page, "admin-index-zh")
    page.goto(f"{live_server.url}/admin/members/member/")
    page.fill("#searchbar", "1381234")
    page.keyboard.press("Enter")
    # The search box posts; the list comes back at an address with a token, never the digits typed.
    page.wait_for_url("**/admin/members/member/?q=~*")
    assert "1381234" not in page.url
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "王芳" in page.content() and "李娜" not in page.content()
    screenshot(page, "admin-members-search-zh")
    page.click("#result_list a:text-is('王芳')")
    page.wait_for_selector("#member_form")
    assert page.input_value("#id_phone") == "+8613812345678"
    screenshot(page, "admin-member-change-zh")


def test_marketer_sees_masked_phones_in_english(live_server, shop, tablet_page, screenshot):
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/members/member/")
    text = page.content()
    assert "Members" in text
    assert "138****5678" in text and "13812345678" not in text
    screenshot(page, "admin-members-marketer-en")


def test_a_duplicate_phone_in_the_add_form_shows_who_has_it(live_server, shop, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/members/member/add/")
    page.fill("#id_phone", "+86 138-1234-5678")
    page.fill("#id_name", "重复")
    page.click("input[name=_save]")
    page.wait_for_selector(".errorlist")
    assert "已" in page.inner_text(".errorlist") or "already" in page.inner_text(".errorlist")
    screenshot(page, "admin-member-duplicate-phone-zh")


def test_a_cashier_is_kept_out_of_the_back_office_and_shown_the_tablet(live_server, shop, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "cashier_a")
    assert "/admin/login/" in page.url
    assert "后台仅供总部人员使用" in page.inner_text(".errornote")
    screenshot(page, "admin-login-store-staff-zh")
    page.click(".errornote a")
    page.wait_for_url(f"{live_server.url}/tablet/**")
