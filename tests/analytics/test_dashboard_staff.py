"""Staff performance on a hand-computed March, in the back office and on a store manager's tablet."""

from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.models import Sale
from members.models import Member
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
from tests.factories import StaffFactory
from tests.factories.campaigns import CouponFactory, CouponTemplateFactory
from tests.factories.stores import integration_token
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db
clock, rules = shop_history.clock, shop_history.rules  # the fixtures


@pytest.fixture
def march(chain, clock, rules):
    """March 15 at A: cashier A registers 王芳 and sells her ¥100 (of which manager A refunds ¥30), a guest
    ¥50 and 王芳 ¥250 with a 满200减50 coupon; cashier A tops her up ¥500; manager A registers a member.
    At B cashier B registers 李娜 and sells her ¥200. HQ registers a member from a paper form in the back
    office (no store); a member registers online (HQ's login recorded, but nobody's performance)."""
    clock.set(local(2026, 3, 15))
    wang = join(clock, name="王芳", store=chain.store_a, staff=chain.cashier_a)
    first = sell(wang, 100, store=chain.store_a, cashier=chain.cashier_a)
    sell(None, 50, store=chain.store_a, cashier=chain.cashier_a)
    coupon = CouponFactory(member=wang, template=CouponTemplateFactory())
    sell(wang, 250, store=chain.store_a, cashier=chain.cashier_a, coupons=[coupon.code], cash=200)
    top_up(wang, 500, store=chain.store_a, staff=chain.cashier_a)
    refund(first, 30, actor=chain.manager_a)
    join(clock, name="赵敏", store=chain.store_a, staff=chain.manager_a)
    li = join(clock, name="李娜", store=chain.store_b, staff=chain.cashier_b)
    sell(li, 200, store=chain.store_b, cashier=chain.cashier_b)
    join(clock, name="纸质", staff=chain.hq_admin)
    join(clock, name="网购", staff=chain.hq_admin, channel=Member.Channel.ONLINE)
    clock.set(local(2026, 3, 20))
    return chain


COLUMNS = ("sales", "revenue", "coupon_sales", "coupon_discount", "registered", "topups", "topup_amount")


def _figures(row: dict) -> tuple:
    return tuple(row[key] for key in (*COLUMNS, "refunds", "refund_amount"))


def test_each_staff_member_has_what_they_did_at_each_store(client, march):
    board = read(client, march.marketer, "staff").context["board"]

    table = board.table("staff")
    assert [row[:2] for row in table.rows] == [
        ["cashier_a", "SH001 上海徐汇店"],
        ["cashier_b", "BJ001 北京朝阳店"],
        ["hq_admin", ""],
        ["manager_a", "SH001 上海徐汇店"],
    ]
    rows = rows_by(table)
    zero = Decimal("0.00")
    # ¥100 − ¥30 refunded, ¥50, ¥250 − ¥50 coupon.
    assert _figures(rows["cashier_a"]) == (3, Decimal("320.00"), 1, Decimal("50.00"), 1, 1, Decimal("500.00"), 0, zero)
    assert rows["cashier_a"]["ticket"] == Decimal("106.67")
    assert _figures(rows["cashier_b"]) == (1, Decimal("200.00"), 0, zero, 1, 0, zero, 0, zero)
    assert _figures(rows["manager_a"]) == (0, zero, 0, zero, 1, 0, zero, 1, Decimal("30.00"))
    assert _figures(rows["hq_admin"]) == (0, zero, 0, zero, 1, 0, zero, 0, zero)
    total = total_of(table)
    assert _figures(total) == (4, Decimal("520.00"), 1, Decimal("50.00"), 4, 1, Decimal("500.00"), 1, Decimal("30.00"))
    figures = {f.label: f.value for f in board.figures}
    assert figures["Staff members"] == 4 and figures["Revenue"] == Decimal("520.00")
    assert board.charts[0].series[0].values == [Decimal("320.00"), Decimal("200.00")]


def test_the_store_filter_keeps_that_stores_staff_and_figures(client, march):
    table = read(client, march.marketer, "staff", store=march.store_a.pk).context["board"].table("staff")

    assert list(rows_by(table)) == ["cashier_a", "manager_a"]
    assert total_of(table)["revenue"] == Decimal("320.00")


def test_a_period_without_activity_renders_nothing(client, march):
    response = read(client, march.marketer, "staff", start="2026-04-01", end="2026-04-30")

    board = response.context["board"]
    assert board.table("staff").rows == [] and board.table("staff").total is None
    assert "No staff activity in this period." in board.notes
    assert "Nothing in this period." in response.content.decode()


def test_the_page_costs_the_same_queries_with_more_staff_and_sales(client, march, clock, django_assert_num_queries):
    read(client, march.marketer, "staff")
    with django_assert_num_queries(8):  # session, user, groups, the form's stores + the dashboard's four
        read(client, None, "staff")

    clock.set(local(2026, 3, 18))
    for i in range(3):
        cashier = StaffFactory(role="cashier", stores=[march.store_b], first_name="丽", last_name=f"王{i}")
        member = join(clock, store=march.store_b, staff=cashier)
        sell(member, 40, store=march.store_b, cashier=cashier)
        top_up(member, 100, store=march.store_b, staff=cashier)
    clock.set(local(2026, 3, 20))
    with django_assert_num_queries(8):
        table = read(client, None, "staff").context["board"].table("staff")
    assert len(table.rows) == 7
    assert any(row[0].startswith("王0丽 (staff") for row in table.rows)  # Chinese names family name first


def test_an_import_by_the_admin_is_not_the_admin_registering_or_selling(client, march, tmp_path):
    from loyalty.services.sales_import import sales_import
    from tests.members.import_support import import_file, write_csv

    members = write_csv(
        tmp_path / "members.csv",
        [[f"1370013700{i}", "导入" + "甲乙丙丁戊"[i]] for i in range(5)],
        header=["手机号", "姓名"],
    )
    assert import_file(members, actor=march.hq_admin).created == 5
    history = write_csv(
        tmp_path / "sales.csv",
        [[f"R{i}", f"1370013700{i}", "SH001", "2026-03-16 10:00", "99.00"] for i in range(5)],
        header=["小票号", "手机号", "门店编码", "消费时间", "实付金额"],
    )
    sales_import(open_source=lambda: history.open("rb"), file_name="sales.csv", actor=march.hq_admin)
    # The imports keep who brought the rows in (the audit), ...
    assert Member.objects.filter(registered_by=march.hq_admin, registration_channel="import").count() == 5
    assert Sale.objects.filter(cashier=march.hq_admin, source="import").count() == 5

    board = read(client, march.marketer, "staff").context["board"]

    # ... but the admin registered one member (the paper form) and sold nothing.
    rows = rows_by(board.table("staff"))
    assert (rows["hq_admin"]["registered"], rows["hq_admin"]["sales"]) == (1, 0)
    assert total_of(board.table("staff"))["registered"] == 4
    store_a = read(client, None, "staff", store=march.store_a.pk).context["board"].table("staff")
    assert total_of(store_a)["revenue"] == Decimal("320.00")


def test_what_an_integration_account_records_is_nobodys_performance(client, march, clock):
    pos = StaffFactory(role="store_manager", stores=[march.store_a], username="pos_link")
    integration_token(pos, name="POS")
    clock.set(local(2026, 3, 16))
    member = join(clock, name="接口", store=march.store_a, staff=pos)
    sale = sell(member, 80, store=march.store_a, cashier=pos)
    top_up(member, 100, store=march.store_a, staff=pos)
    refund(sale, 10, actor=pos)
    # A sale of the online mall, rung up under a person's login, is not a till's sale either.
    online = sell(None, 60, store=march.store_a, cashier=march.cashier_a)
    Sale.objects.filter(pk=online.pk).update(channel=Sale.Channel.ONLINE)
    clock.set(local(2026, 3, 20))

    table = read(client, march.marketer, "staff").context["board"].table("staff")

    assert "pos_link" not in rows_by(table)
    assert rows_by(table)["cashier_a"]["sales"] == 3
    assert (total_of(table)["registered"], total_of(table)["topups"], total_of(table)["refunds"]) == (4, 1, 1)


def test_the_marketer_exports_the_table_and_each_export_is_audited(client, march):
    exports_are_audited(client, march.marketer, "staff", "staff")


def test_store_staff_cannot_read_it_in_the_back_office(client, march):
    refused(client, march.manager_a, "staff")
    refused(client, march.cashier_a, "staff")


# --- the store manager's tablet ------------------------------------------------------------------------


def test_the_manager_reads_the_staff_figures_of_the_tablets_store_only(at_till, march):
    client = at_till(march.manager_a, march.store_a)

    response = client.get(reverse("tablet:staff-figures"), {"start": "2026-03-01", "end": "2026-03-31"})

    assert response.status_code == 200
    table = response.context["table"]
    assert list(rows_by(table)) == ["cashier_a", "manager_a"]
    assert total_of(table)["revenue"] == Decimal("320.00")
    page = response.content.decode()
    assert "cashier_b" not in page and "¥320.00" in page
    assert "Staff figures at 上海徐汇店" in page


def test_the_tablet_page_defaults_to_this_month(at_till, march):
    response = at_till(march.manager_a, march.store_a).get(reverse("tablet:staff-figures"))

    assert response.status_code == 200
    assert (response.context["form"].cleaned_data["start"].isoformat(), response.context["table"].rows[0][0]) == (
        "2026-03-01",
        "cashier_a",
    )


def test_the_tablet_page_refuses_a_bad_period_with_a_message(at_till, march):
    response = at_till(march.manager_a, march.store_a).get(
        reverse("tablet:staff-figures"), {"start": "2026-03-31", "end": "2026-03-01"}
    )

    assert response.status_code == 200 and response.context["board"] is None
    assert "The end is before the start." in response.content.decode()


def test_cashiers_are_refused_and_only_managers_see_the_menu_entry(at_till, march):
    cashier = at_till(march.cashier_a, march.store_a)
    response = cashier.get(reverse("tablet:staff-figures"))
    assert response.status_code == 403 and "board" not in response.context
    assert reverse("tablet:staff-figures") not in cashier.get(reverse("tablet:find")).content.decode()

    manager = at_till(march.manager_a, march.store_a)
    menu = [item["url"] for item in manager.get(reverse("tablet:find")).context["tablet"]["menu"]]
    assert menu.index(reverse("tablet:staff-figures")) == menu.index(reverse("tablet:today")) + 1


def test_the_tablet_page_costs_the_same_queries_with_more_history(at_till, march, clock, django_assert_num_queries):
    client = at_till(march.manager_a, march.store_a)
    url = reverse("tablet:staff-figures")
    client.get(url)
    with django_assert_num_queries(10):
        # session, user, groups, the manager's stores, the tablet's store, the dashboard's four, and the
        # menu's count of sales to review
        client.get(url)

    clock.set(local(2026, 3, 18))
    for _i in range(3):
        cashier = StaffFactory(role="cashier", stores=[march.store_a])
        sell(join(clock, store=march.store_a, staff=cashier), 40, store=march.store_a, cashier=cashier)
    clock.set(local(2026, 3, 20))
    with django_assert_num_queries(10):
        response = client.get(url)
    assert len(response.context["table"].rows) == 5
