"""The segment builder in Chromium at 1024×768: two rules, the live count following them, an error shown
next to its rule, saving, and the preview; in Chinese and in English."""

from decimal import Decimal

import pytest

from campaigns.models import Segment
from loyalty.models import MemberStats
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.loyalty import LoyaltySettingsFactory, TierFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shoppers(chain):
    """Four members: two big spenders (one at each store), two small ones."""
    LoyaltySettingsFactory()
    gold = TierFactory(code="GOLD", name="金卡", rank=1)
    normal = TierFactory(code="NORMAL", name="普卡", rank=0)
    people = [
        ("13812345678", "王芳", chain.store_a, gold, "1800.00"),
        ("13912345678", "李娜", chain.store_b, gold, "2600.00"),
        ("13712345678", "张伟", chain.store_a, normal, "120.00"),
        ("13612345678", "刘洋", chain.store_b, normal, "60.00"),
    ]
    for phone, name, store, tier, spend in people:
        member = MemberFactory(phone=phone, name=name, home_store=store)
        MemberStats.objects.create(member=member, tier=tier, total_spend=Decimal(spend), purchase_count=3)
    return chain


def count_text(page) -> str:
    page.wait_for_function("!document.getElementById('segment-live-count').classList.contains('counting')")
    return page.inner_text("#segment-count")


def wait_for_count(page, text: str) -> None:
    page.wait_for_function(
        "t => !document.getElementById('segment-live-count').classList.contains('counting')"
        " && document.getElementById('segment-count').innerText.includes(t)",
        arg=text,
    )


@pytest.mark.parametrize(
    ("locale", "lang", "name", "all_four", "two", "one"),
    [
        ("zh-CN", "zh", "高消费会员", "4", "2", "1"),
        ("en-US", "en", "Big spenders", "4 members", "2 members", "1 member"),
    ],
)
def test_a_marketer_builds_a_segment_with_two_rules_watching_the_count_then_previews_it(
    live_server, shoppers, tablet_page, screenshot, locale, lang, name, all_four, two, one
):
    page = tablet_page(locale)
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    wait_for_count(page, all_four)
    page.fill("#id_name", name)

    page.select_option(".rule-row[data-key='0'] .rule-field", "spend")
    page.fill("input[name='rules-0-min']", "1000")
    wait_for_count(page, two)

    page.click("#segment-add-rule")
    page.select_option(".rule-row[data-key='1'] .rule-field", "home_store")
    page.check(f"input[name='rules-1-value'][value='{shoppers.store_a.pk}']")
    wait_for_count(page, one)
    screenshot(page, f"admin-segment-builder-{lang}")

    # A contradiction shows next to its rule, and the count says to correct it.
    page.fill("input[name='rules-0-max']", "10")
    page.wait_for_selector(".rule-row[data-key='0'] .rule-error:not([hidden])")
    assert "1" in page.inner_text(".rule-row[data-key='0'] .rule-error")
    screenshot(page, f"admin-segment-builder-error-{lang}")
    page.fill("input[name='rules-0-max']", "")
    wait_for_count(page, one)

    page.click("input[name=_save].default")
    page.wait_for_selector("#segment-members")
    segment = Segment.objects.get()
    assert segment.name == name and segment.member_count == 1
    assert [r["field"] for r in segment.rules] == ["spend", "home_store"]
    assert "王芳" in page.inner_text("#segment-members") and "138****5678" in page.inner_text("#segment-members")
    assert "金卡" in page.inner_text("#segment-by-tier")
    # The page fits the 1024-pixel screen: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    screenshot(page, f"admin-segment-preview-{lang}")


def test_removing_a_rule_in_the_browser_counts_again(live_server, shoppers, tablet_page, screenshot):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/segment/add/")
    page.select_option(".rule-row[data-key='0'] .rule-field", "spend")
    page.fill("input[name='rules-0-min']", "1000")
    wait_for_count(page, "2")

    page.click(".rule-row[data-key='0'] .rule-remove")

    wait_for_count(page, "4")
    assert page.locator(".rule-row").count() == 0
