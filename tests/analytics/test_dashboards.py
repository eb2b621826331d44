"""The dashboards' frame (access, filters, exports, charts) and the members and repurchase dashboard."""

import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.dashboards import REGISTRY
from analytics.dashboards.base import Chart, Scope, Series
from analytics.dashboards.charts import compact, render
from loyalty.models import Sale
from loyalty.services import LineInput, TenderInput, sale_checkout
from members.models import Member
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.factories.stores import RegionFactory, StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 3, 1), dt.date(2026, 3, 31)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def shop(chain):
    """sell(member or None, amount, day, store=store A) rings a cash sale up and dates it `day` at noon."""
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))

    def sell(member, amount, day, store=None):
        sale = sale_checkout(
            request_id=str(uuid.uuid4()),
            store=store or chain.store_a,
            cashier=chain.cashier_b if store == chain.store_b else chain.cashier_a,
            member=member,
            lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal(amount))],
            tenders=[TenderInput("cash", Decimal(amount))],
        )
        Sale.objects.filter(pk=sale.pk).update(created_at=at(day))
        return sale

    return sell


def joined(member, day: dt.date):
    Member.objects.filter(pk=member.pk).update(registered_at=at(day, 10))
    return member


@pytest.fixture
def march(chain, shop):
    """Three members joined before March, one in it; in March at store A: 王芳 buys twice (100, 50), 李娜
    once (30), two other customers pay 20 and 40; at store B: 张伟 (joined in March there) buys once (60)."""
    wang = joined(MemberFactory(store=chain.store_a, name="王芳"), dt.date(2026, 1, 5))
    li = joined(MemberFactory(store=chain.store_a, name="李娜"), dt.date(2026, 2, 1))
    joined(MemberFactory(store=chain.store_a, name="刘洋"), dt.date(2026, 2, 20))
    zhang = joined(MemberFactory(store=chain.store_b, name="张伟"), dt.date(2026, 3, 10))
    shop(wang, "100.00", dt.date(2026, 3, 2))
    shop(wang, "50.00", dt.date(2026, 3, 20))
    shop(li, "30.00", dt.date(2026, 3, 20))
    shop(None, "20.00", dt.date(2026, 3, 5))
    shop(None, "40.00", dt.date(2026, 3, 6))
    shop(zhang, "60.00", dt.date(2026, 3, 11), store=chain.store_b)
    shop(wang, "999.00", dt.date(2026, 4, 1))  # after the period
    return {"wang": wang, "zhang": zhang}


def read(client, user, slug="members", **params):
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client.get(reverse("analytics_dashboard", args=[slug]), params)


def figures(response) -> dict:
    return {str(f.label): f.value for f in response.context["board"].figures}


def test_the_members_dashboard_counts_growth_activity_repurchase_and_the_members_share(client, chain, march):
    response = read(client, chain.marketer, start=START, end=END)

    assert response.status_code == 200
    assert figures(response) == {
        "Members at the end": 4,
        "New members": 1,
        "Active members": 3,
        "Repurchase rate": Decimal("33.33"),  # 王芳 of 王芳, 李娜, 张伟
        "Members' share of revenue": Decimal("80.00"),  # 240 of 300
        "Member average ticket": Decimal("60.00"),  # 240 / 4 sales
        "Other average ticket": Decimal("30.00"),  # 60 / 2
    }
    table = response.context["board"].table("by_period")
    assert len(table.rows) == 31
    tenth = table.rows[9]
    assert tenth[:3] == ["2026-03-10", 1, 4]
    assert table.total[4:8] == [4, 2, Decimal("240.00"), Decimal("60.00")]


def test_a_refund_takes_its_amount_off_the_revenue(client, chain, march):
    from loyalty.services import sale_refund

    sale = Sale.objects.get(member=march["zhang"])
    sale_refund(request_id=str(uuid.uuid4()), sale=sale, amount=Decimal("60.00"), reason="退货", actor=chain.hq_admin)

    table = read(client, chain.marketer, start=START, end=END).context["board"].table("by_period")
    assert table.total[6] == Decimal("180.00")


def test_a_store_or_a_region_narrows_every_figure(client, chain, march):
    at_b = figures(read(client, chain.marketer, start=START, end=END, store=chain.store_b.pk))
    assert at_b["Members at the end"] == 1
    assert at_b["Active members"] == 1
    assert at_b["Member average ticket"] == Decimal("60.00")
    assert at_b["Other average ticket"] is None

    region_of_b = figures(read(client, chain.marketer, start=START, end=END, region=chain.store_b.region_id))
    assert region_of_b == at_b


def test_a_long_period_is_grouped_by_week_and_a_longer_one_by_month():
    assert Scope(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31)).bucket == "week"
    weeks = Scope(start=dt.date(2026, 1, 1), end=dt.date(2026, 3, 31)).buckets()
    assert weeks[0] == dt.date(2025, 12, 29) and all(w.weekday() == 0 for w in weeks)
    months = Scope(start=dt.date(2025, 11, 15), end=dt.date(2027, 2, 1)).buckets()
    assert months[0] == dt.date(2025, 11, 1) and months[-1] == dt.date(2027, 2, 1) and len(months) == 16


def test_the_weekly_table_adds_up_to_the_same_totals(client, chain, march):
    daily = read(client, chain.marketer, start=START, end=END).context["board"].table("by_period")
    weekly = read(client, chain.marketer, start=dt.date(2026, 1, 1), end=END).context["board"].table("by_period")
    assert sum(row[4] for row in weekly.rows) == daily.total[4] == 4
    assert weekly.total[1] == 4  # all four joined from January on


def test_an_empty_chain_shows_zeros_and_says_there_were_no_sales(client, chain):
    response = read(client, chain.hq_admin, start=START, end=END)
    assert response.status_code == 200
    assert figures(response)["Active members"] == 0
    assert figures(response)["Repurchase rate"] is None
    assert "No sales in this period." in response.content.decode()


def test_a_period_that_ends_before_it_starts_is_refused_with_a_message(client, chain):
    response = read(client, chain.marketer, start="2026-03-31", end="2026-03-01")
    assert response.status_code == 200
    assert response.context["board"] is None
    assert "The end is before the start." in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [{"start": "31/03/2026"}, {"store": "999999"}, {"store": "x"}, {"region": "1e9"}, {"start": "2020-01-01"}],
)
def test_bad_filters_get_a_field_error_and_no_figures(client, chain, params):
    response = read(client, chain.marketer, **params)
    assert response.status_code == 200
    assert response.context["board"] is None
    assert response.context["form"].errors


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_history(
    client, chain, march, shop, django_assert_num_queries
):
    client.force_login(chain.marketer)
    url = reverse("analytics_dashboard", args=["members"])
    params = {"start": START, "end": END}
    # session, user, role groups, the stores (and their regions) of the filter; then the dashboard's four
    with django_assert_num_queries(8):
        client.get(url, params)
    for n in range(5):
        shop(MemberFactory(store=chain.store_b), "10.00", dt.date(2026, 3, 1 + n), store=chain.store_b)
    with django_assert_num_queries(8):
        assert client.get(url, params).status_code == 200


def test_the_marketer_exports_a_table_as_csv_and_the_export_is_audited(client, chain, march):
    response = read(client, chain.marketer, start=START, end=END, format="csv", table="by_period")

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("Period,New members,Members at the end,Active members")
    assert "Members' share of revenue (%)" in lines[0]
    assert len(lines) == 1 + 31 + 1
    assert lines[-1].startswith("Total,1,4,3,4,2,240.00,60.00,80.00,60.00,30.00")
    entry = AuditEntry.objects.get(action="analytics.dashboard_exported")
    assert entry.actor == chain.marketer
    assert entry.data["dashboard"] == "members" and entry.data["rows"] == 32


def test_the_same_table_exports_as_xlsx(client, chain, march):
    from openpyxl import load_workbook

    response = read(client, chain.marketer, start=START, end=END, format="xlsx", table="by_period")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "Period" and rows[-1][:4] == ("Total", 1, 4, 3)
    assert rows[-1][6] == 240


def test_an_unknown_table_or_format_exports_nothing(client, chain, march):
    assert read(client, chain.marketer, format="csv", table="nope").status_code == 404
    response = read(client, chain.marketer, format="pdf", table="by_period")
    assert response.status_code == 200
    assert "Unknown format" in response.content.decode()
    assert not AuditEntry.objects.filter(action="analytics.dashboard_exported").exists()


def test_only_hq_staff_read_the_dashboards(client, chain):
    for user in (chain.cashier_a, chain.manager_a):
        response = read(client, user)
        assert response.status_code == 302 and "/login/" in response["Location"]
    client.logout()
    assert client.get(reverse("analytics_dashboards")).status_code == 302
    roleless = StaffFactory(username="intern", role="")
    roleless.is_staff = True
    roleless.save()
    assert read(client, roleless).status_code == 403


def test_an_unknown_dashboard_is_not_found(client, chain):
    assert read(client, chain.marketer, slug="nope").status_code == 404


def test_the_index_and_the_admin_home_list_every_dashboard(client, chain):
    client.force_login(chain.marketer)
    index = client.get(reverse("analytics_dashboards")).content.decode()
    home = client.get(reverse("admin:index")).content.decode()
    for slug in REGISTRY:
        assert reverse("analytics_dashboard", args=[slug]) in index
        assert reverse("analytics_dashboard", args=[slug]) in home


def test_every_dashboard_renders_for_an_empty_chain_and_a_history(client, chain, march):
    region = RegionFactory(code="EMPTY")
    StoreFactory(code="E01", region=region)
    for slug in REGISTRY:
        for params in ({}, {"start": START, "end": END}, {"region": region.pk}):
            response = read(client, chain.hq_admin, slug=slug, **params)
            assert response.status_code == 200, (slug, params)
            assert response.context["board"] is not None, (slug, params)


def test_charts_are_svg_with_escaped_text_and_readable_axis_labels():
    chart = Chart("<script>", ["a&b", "c"], [Series("<b>x</b>", [1, None])])
    svg = str(render(chart))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg and "a&amp;b" in svg
    bars = str(render(Chart("bars", ["甲"], [Series("n", [Decimal("12.5")])], kind="bar")))
    assert "<rect" in bars and "12.5" in bars
    assert compact(1_250_000) == "1.2M" or compact(1_250_000) == "1.25M"
    assert compact(0) == "0"


def test_chinese_axis_labels_use_wan_and_yi():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert compact(35_000) == "3.5万"
        assert compact(200_000_000) == "2亿"
