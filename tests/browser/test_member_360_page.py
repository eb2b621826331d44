import pytest

from tests.browser.test_back_office import log_in
from tests.members.history import loyalty_rules, member_with_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fang(chain):
    loyalty_rules()
    return member_with_history(chain)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_360_page_reads_at_1024_pixels_from_the_members_list(
    live_server, chain, fang, tablet_page, screenshot, locale
):
    page = tablet_page(locale)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/members/member/")
    page.fill("#searchbar", fang.code)
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/admin/members/member/?q=~*")
    page.click(f"a[href$='/{fang.pk}/360/']")
    page.wait_for_selector("#m360-campaigns")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1024, f"the 360 page is {width} px wide"
    assert "138****5678" in page.content()
    screenshot(page, f"admin-member-360-{locale}")
    page.evaluate("document.querySelector('#m360-tier').scrollIntoView()")
    screenshot(page, f"admin-member-360-tier-{locale}")
