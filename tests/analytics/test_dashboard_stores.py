"""The store comparison on a hand-computed March: one row per store, its figures, the filters, the
query count and who may read and export it."""

from decimal import Decimal

import pytest

from tests.analytics import shop_history
from tests.analytics.shop_history import (
    exports_are_audited,
    join,
    read,
    refund,
    refused,
    rows_by,
    sell,
    top_up,
    total_of,
)
from tests.factories import MemberFactory, StaffFactory, StoreFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db
clock, rules = shop_history.clock, shop_history.rules  # the fixtures


@pytest.fixture
def march(chain, clock, rules):
    """February: 老顾客 joins at A and buys ¥999 (outside the period). March 15: 王芳 joins at A and buys
    ¥100, a guest buys ¥50 at A, 王芳 tops up ¥500 at A; 李娜 joins at B, buys ¥200 and returns ¥40."""
    clock.set(local(2026, 2, 20))
    old = join(clock, name="老顾客", store=chain.store_a, staff=chain.cashier_a)
    sell(old, 999, store=chain.store_a, cashier=chain.cashier_a)
    clock.set(local(2026, 3, 15))
    wang = join(clock, name="王芳", store=chain.store_a, staff=chain.cashier_a)
    sell(wang, 100, store=chain.store_a, cashier=chain.cashier_a)
    sell(None, 50, store=chain.store_a, cashier=chain.cashier_a)
    top_up(wang, 500, store=chain.store_a, staff=chain.cashier_a)
    li = join(clock, name="李娜", store=chain.store_b, staff=chain.cashier_b)
    sale = sell(li, 200, store=chain.store_b, cashier=chain.cashier_b)
    refund(sale, 40, actor=chain.hq_admin)
    clock.set(local(2026, 3, 20))
    return chain


def test_each_store_has_its_figures_and_the_total_adds_them_up(client, march):
    board = read(client, march.marketer, "stores").context["board"]

    table = board.table("stores")
    rows = rows_by(table)
    a, b = rows["SH001 上海徐汇店"], rows["BJ001 北京朝阳店"]
    assert (a["sales"], a["revenue"], a["refund_count"], a["refunds"]) == (2, Decimal("150.00"), 0, Decimal("0.00"))
    assert (a["member_share"], a["ticket"]) == (Decimal("66.67"), Decimal("75.00"))
    assert (a["new_members"], a["topups"], a["points"]) == (1, Decimal("500.00"), 100)
    assert (b["sales"], b["revenue"], b["refund_count"], b["refunds"]) == (1, Decimal("160.00"), 1, Decimal("40.00"))
    assert (b["member_share"], b["ticket"]) == (Decimal("100.00"), Decimal("160.00"))
    assert (b["new_members"], b["topups"], b["points"]) == (1, Decimal("0.00"), 200)
    assert a["region"] == march.store_a.region.name
    total = total_of(table)
    assert (total["sales"], total["revenue"], total["refunds"]) == (3, Decimal("310.00"), Decimal("40.00"))
    assert (total["member_share"], total["ticket"]) == (Decimal("83.87"), Decimal("103.33"))
    assert (total["new_members"], total["topups"], total["points"]) == (2, Decimal("500.00"), 300)
    figures = {f.label: f.value for f in board.figures}
    assert figures["Stores"] == 2 and figures["Revenue"] == Decimal("310.00")
    # The chart ranks the stores by revenue.
    assert board.charts[0].labels == ["BJ001 北京朝阳店", "SH001 上海徐汇店"]
    assert board.charts[0].series[0].values == [Decimal("160.00"), Decimal("150.00")]


def test_the_store_and_the_region_filters_narrow_the_rows(client, march):
    by_store = read(client, march.marketer, "stores", store=march.store_b.pk).context["board"].table("stores")
    assert list(rows_by(by_store)) == ["BJ001 北京朝阳店"]
    assert total_of(by_store)["revenue"] == Decimal("160.00")

    by_region = read(client, march.marketer, "stores", region=march.store_a.region_id).context["board"]
    assert list(rows_by(by_region.table("stores"))) == ["SH001 上海徐汇店"]


def test_a_period_without_business_shows_zeros_and_says_so(client, chain, clock, rules):
    response = read(client, chain.marketer, "stores")

    board = response.context["board"]
    assert [row[2:4] for row in board.table("stores").rows] == [[0, Decimal("0.00")], [0, Decimal("0.00")]]
    assert board.charts == [] and "No sales in this period." in board.notes
    assert response.status_code == 200


def test_a_chain_without_stores_renders_nothing(client, db):
    response = read(client, StaffFactory(role="hq_marketer"), "stores")

    assert response.status_code == 200
    assert response.context["board"].table("stores").rows == []
    assert "Nothing in this period." in response.content.decode()


def test_a_closed_store_shows_only_when_it_did_something(client, march):
    StoreFactory(code="ZZ999", name="已关闭门店", is_active=False)

    rows = rows_by(read(client, march.marketer, "stores").context["board"].table("stores"))

    assert "ZZ999 已关闭门店" not in rows


def test_the_page_costs_the_same_queries_with_more_stores_and_sales(client, march, clock, django_assert_num_queries):
    read(client, march.marketer, "stores")
    with django_assert_num_queries(8):  # session, user, groups, the form's stores + the dashboard's four
        read(client, None, "stores")

    store = StoreFactory(code="GZ001", name="广州天河店")
    cashier = StaffFactory(role="cashier", stores=[store])
    clock.set(local(2026, 3, 18))
    for amount in (30, 60, 90):
        sell(MemberFactory(store=store, staff=cashier), amount, store=store, cashier=cashier)
    clock.set(local(2026, 3, 20))
    with django_assert_num_queries(8):
        board = read(client, None, "stores").context["board"]
    assert rows_by(board.table("stores"))["GZ001 广州天河店"]["revenue"] == Decimal("180.00")


def test_the_marketer_exports_the_table_and_each_export_is_audited(client, march):
    exports_are_audited(client, march.marketer, "stores", "stores")


def test_store_staff_cannot_read_it(client, march):
    refused(client, march.manager_a, "stores")
    refused(client, march.cashier_a, "stores")
