import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone, translation

from analytics.dashboards import dashboards
from analytics.services import score_members
from loyalty.models import Sale
from loyalty.services import LineInput, TenderInput, sale_checkout
from stores.models import AuditEntry
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history(chain):
    """Two months of sales at store A: members buying every few days, and a walk-in customer."""
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    today = timezone.localdate()
    members = [MemberFactory(store=chain.store_a) for _ in range(4)]
    for ago in range(0, 60, 3):
        for i, member in enumerate([*members, None]):
            if (ago + i) % 2:
                continue
            sale = sale_checkout(
                request_id=str(uuid.uuid4()),
                store=chain.store_a,
                cashier=chain.cashier_a,
                member=member,
                lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal(30 + 10 * i))],
                tenders=[TenderInput("cash", Decimal(30 + 10 * i))],
            )
            moment = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=ago), dt.time(12)))
            Sale.objects.filter(pk=sale.pk).update(created_at=moment)
    score_members(as_of=today)


def test_the_marketer_reads_every_dashboard_from_the_home_page_in_chinese(
    live_server, chain, history, tablet_page, screenshot
):
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/")
    page.click("#analytics-dashboards caption a")
    for dashboard in dashboards():
        page.wait_for_selector(".dash-list")
        page.click(f".dash-list a[href$='/{dashboard.slug}/']")
        page.wait_for_selector(".tabs a.current")
        with translation.override("zh-hans"):
            title = str(dashboard.title)
        assert page.locator(".tabs a.current").inner_text().strip() == title
        assert page.locator("#content-main .errorlist").count() == 0
        assert page.locator(".figures .figure, svg.chart, table.report").count() > 0
        screenshot(page, f"dashboard-{dashboard.slug}-zh")
        page.go_back()


def test_the_period_is_chosen_on_the_page_and_a_backwards_one_is_explained(
    live_server, chain, history, tablet_page, screenshot
):
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/analytics/dashboards/members/")
    today = timezone.localdate()
    page.fill("#id_start", (today - dt.timedelta(days=59)).isoformat())
    page.fill("#id_end", today.isoformat())
    page.click("#dashboard-filters input[type=submit]")
    page.wait_for_selector("svg.chart")
    assert page.locator("svg.chart circle").count() > 0
    assert page.locator("#table-by_period tbody tr").count() >= 9  # weeks
    screenshot(page, "dashboard-members-en")

    page.fill("#id_start", today.isoformat())
    page.fill("#id_end", (today - dt.timedelta(days=7)).isoformat())
    page.click("#dashboard-filters input[type=submit]")
    page.wait_for_selector(".errorlist")
    assert "The end is before the start." in page.inner_text(".errorlist")
    assert page.locator("svg.chart").count() == 0


def test_a_table_downloads_as_csv_and_the_export_is_audited(live_server, chain, history, tablet_page):
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/analytics/dashboards/members/")
    with page.expect_download() as download:
        page.click(".module h2 .export a:text('CSV')")
    path = download.value.path()
    text = Path(path).read_text(encoding="utf-8-sig")
    assert text.startswith("Period,New members")
    assert AuditEntry.objects.filter(action="analytics.dashboard_exported", actor=chain.marketer).count() == 1
