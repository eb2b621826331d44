"""Purchase history from a previous system (loyalty.services.sales_import), on files as chains bring them."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from loyalty.models import (
    MemberDailySpend,
    MemberStats,
    PointsAccount,
    PointsEntry,
    PointsLot,
    Refund,
    Sale,
    SaleLine,
    Tier,
    TierChange,
    TierPolicy,
)
from loyalty.reconcile import ledger_mismatches
from loyalty.services import sale_refund
from loyalty.services.earning import active_rules, pick_rule, rule_for
from loyalty.services.refunds import RefundLineInput
from loyalty.services.sales_import import sales_import
from members.imports.reader import ImportFileError
from stores.models import AuditEntry
from tests.factories import MemberFactory, StoreFactory
from tests.factories.loyalty import EarningRuleFactory, TierFactory
from tests.loyalty.clock import Clock, local
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db

HEADER = ["小票号", "手机号", "门店编码", "消费时间", "实付金额", "品类", "数量", "商品金额"]


@pytest.fixture(autouse=True)
def english():
    # Reasons are asserted in English; the Chinese catalogue is the translators' business.
    with translation.override("en"):
        yield


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 15, 20))


@pytest.fixture
def wang(db):
    return MemberFactory(phone="13800138000", name="王芳", birthday=date(1990, 7, 1))


@pytest.fixture
def li(db):
    return MemberFactory(phone="13900139000", name="李娜")


def row(receipt="R001", phone="13800138000", store="SH001", time="2026-03-01 10:30", amount="100.00", category="",
        quantity="", line_amount=""):  # fmt: skip
    return [receipt, phone, store, time, amount, category, quantity, line_amount]


def run(tmp_path, rows, *, actor, header=HEADER, encoding="utf-8-sig", name="history.csv", **options):
    path = write_csv(tmp_path / name, rows, header=header, encoding=encoding)
    return sales_import(open_source=lambda: path.open("rb"), file_name=path.name, actor=actor, **options)


def snapshot() -> dict:
    return {
        "sales": Sale.objects.count(),
        "lines": SaleLine.objects.count(),
        "stats": list(MemberStats.objects.order_by("pk").values_list("pk", "purchase_count", "total_spend")),
        "daily": MemberDailySpend.objects.count(),
        "entries": PointsEntry.objects.count(),
        "accounts": PointsAccount.objects.count(),
    }


# --- a good file ---------------------------------------------------------------------------------


def test_receipts_become_sales_of_their_members_with_purchase_statistics(tmp_path, chain, clock, wang, li):
    result = run(
        tmp_path,
        [
            row("R001", "13800138000", "SH001", "2026-03-01 10:30", "100.00", "饮料", "2", "60.00"),
            row("R001", "", "", "", "", "零食", "1", "40.00"),
            row("R002", "+86 139-0013-9000", "bj001", "2026-03-02 21:15", "45.50"),
            row("R003", "13800138000", "BJ001", "2026-03-10", "20"),
        ],
        actor=chain.hq_admin,
    )

    assert (result.rows, result.created, result.unchanged, result.rejected, result.written) == (4, 3, 0, 0, True)
    first = Sale.objects.get(request_id="import:R001")
    assert first.source == Sale.Source.IMPORT and first.member == wang and first.store == chain.store_a
    assert first.cashier == chain.hq_admin and first.points_earned == 0
    assert (first.subtotal, first.total_due, first.paid_money) == (Decimal("100.00"),) * 3
    assert timezone.localtime(first.created_at).strftime("%Y-%m-%d %H:%M") == "2026-03-01 10:30"
    assert [(line.category, line.quantity, line.net_amount) for line in first.lines.all()] == [
        ("饮料", Decimal("2.000"), Decimal("60.00")),
        ("零食", Decimal("1.000"), Decimal("40.00")),
    ]
    # One row, no category: one line of the whole amount.
    assert [(line.category, line.net_amount) for line in Sale.objects.get(request_id="import:R002").lines.all()] == [
        ("未分类", Decimal("45.50"))
    ]
    stats = MemberStats.objects.get(pk=wang.pk)
    assert (stats.purchase_count, stats.total_spend) == (2, Decimal("120.00"))
    assert timezone.localtime(stats.first_purchase_at).date() == date(2026, 3, 1)
    assert timezone.localtime(stats.last_purchase_at).date() == date(2026, 3, 10)
    assert sorted(MemberDailySpend.objects.filter(member=wang).values_list("day", "spend", "visits")) == [
        (date(2026, 3, 1), Decimal("100.00"), 1),
        (date(2026, 3, 10), Decimal("20.00"), 1),
    ]
    assert not PointsEntry.objects.exists()  # no points without award_points
    audit = AuditEntry.objects.get(action="sales.imported")
    assert audit.actor == chain.hq_admin and audit.data["created"] == 3 and audit.data["file"] == "history.csv"
    assert ledger_mismatches() == []


def test_the_business_day_is_chinas_even_late_at_night(tmp_path, chain, clock, wang):
    # 23:30 in Shanghai is 15:30 UTC the same day; 00:30 is the day before in UTC.
    run(tmp_path, [row("R1", time="2026-03-01 23:30"), row("R2", time="2026-03-02 00:30")], actor=chain.hq_admin)
    assert sorted(MemberDailySpend.objects.values_list("day", flat=True)) == [date(2026, 3, 1), date(2026, 3, 2)]


def test_without_line_amounts_a_receipt_is_shared_out_by_quantity_to_the_cent(tmp_path, chain, clock, wang):
    run(
        tmp_path,
        [row("R1", amount="100.00", category="饮料", quantity="2"), row("R1", "", "", "", "", "零食", "1")],
        actor=chain.hq_admin,
    )
    amounts = list(SaleLine.objects.order_by("line_no").values_list("net_amount", flat=True))
    assert amounts == [Decimal("66.67"), Decimal("33.33")] and sum(amounts) == Decimal("100.00")


def test_a_sale_without_a_phone_is_a_sale_without_a_member(tmp_path, chain, clock):
    result = run(tmp_path, [row("R1", phone="", amount="30")], actor=chain.hq_admin)
    assert result.created == 1
    sale = Sale.objects.get()
    assert sale.member is None and sale.total_due == Decimal("30.00")
    assert not MemberStats.objects.exists() and not MemberDailySpend.objects.exists()
    assert ("Sales without a member", "1") in result.extra


def test_english_headers_and_a_gbk_file_from_excel(tmp_path, chain, clock, wang):
    header = ["Receipt No", "Mobile", "Store", "Time", "Amount", "Category", "Qty", "Line amount"]
    result = run(tmp_path, [row("R1", category="护肤品")], actor=chain.hq_admin, header=header, encoding="gbk")
    assert result.created == 1 and result.encoding == "gb18030"
    assert SaleLine.objects.get().category == "护肤品"


def test_importing_the_same_file_twice_changes_nothing(tmp_path, chain, clock, wang, li):
    rows = [row("R1"), row("R2", "13900139000", amount="50"), row("R3", phone="")]
    run(tmp_path, rows, actor=chain.hq_admin, award_points=True)
    before = snapshot()

    again = run(tmp_path, rows, actor=chain.hq_admin, award_points=True)

    assert (again.created, again.unchanged, again.rejected) == (0, 3, 0)
    assert snapshot() == before
    assert ledger_mismatches() == []


def test_a_receipt_imported_before_with_other_figures_is_refused(tmp_path, chain, clock, wang):
    run(tmp_path, [row("R1", amount="100")], actor=chain.hq_admin)
    before = snapshot()

    result = run(tmp_path, [row("R1", amount="120"), row("R2")], actor=chain.hq_admin)

    assert result.errors == [(2, "This receipt was imported before with other figures; a sale is imported once.")]
    assert not result.written and snapshot() == before


def test_a_dry_run_counts_and_writes_nothing(tmp_path, chain, clock, wang):
    EarningRuleFactory()
    result = run(tmp_path, [row("R1"), row("R2", amount="20")], actor=chain.hq_admin, dry_run=True, award_points=True)
    assert (result.created, result.written) == (2, False)
    assert ("Points awarded", "120 points on 2 sales") in result.extra
    assert not Sale.objects.exists() and not PointsEntry.objects.exists()
    assert AuditEntry.objects.get(action__startswith="sales.").action == "sales.import_dry_run"


# --- points ----------------------------------------------------------------------------------------


def test_award_points_follows_the_earning_rules_of_the_sales_day(tmp_path, chain, clock, wang):
    EarningRuleFactory(
        points_per_yuan=Decimal("1"),
        member_day_weekday=2,  # Wednesday, 2026-03-04
        member_day_multiplier=Decimal("2"),
        excluded_categories=["香烟"],
    )
    result = run(
        tmp_path,
        [
            row("R1", time="2026-03-03 10:00", amount="100.00"),
            row("R2", time="2026-03-04 10:00", amount="100.00"),
            row("R3", time="2026-03-05 10:00", amount="100.00", category="香烟", quantity="1", line_amount="60.00"),
            row("R3", "", "", "", "", "饮料", "1", "40.00"),
        ],
        actor=chain.hq_admin,
        award_points=True,
    )

    earned = dict(Sale.objects.values_list("request_id", "points_earned"))
    assert earned == {"import:R1": 100, "import:R2": 200, "import:R3": 40}
    assert PointsAccount.objects.get(pk=wang.pk).available == 340
    assert ("Points awarded", "340 points on 3 sales") in result.extra
    # Each sale's points are a lot of their own, expiring as if earned at the time of the sale.
    lot = PointsLot.objects.get(entry__idempotency_key=f"sale:{Sale.objects.get(request_id='import:R1').pk}:earn")
    assert timezone.localtime(lot.expires_at).date() == date(2027, 3, 4)
    assert MemberDailySpend.objects.get(member=wang, day=date(2026, 3, 4)).points_earned == 200
    assert ledger_mismatches() == []


def test_the_per_day_cap_counts_the_days_sales_in_time_order(tmp_path, chain, clock, wang):
    EarningRuleFactory(per_day_cap=150)
    run(
        tmp_path,
        [row("R2", time="2026-03-04 15:00", amount="100"), row("R1", time="2026-03-04 09:00", amount="100")],
        actor=chain.hq_admin,
        award_points=True,
    )
    earned = dict(Sale.objects.values_list("request_id", "points_earned"))
    assert earned == {"import:R1": 100, "import:R2": 50}


def test_points_that_would_have_expired_by_now_are_not_awarded(tmp_path, chain, clock, wang):
    EarningRuleFactory()
    result = run(
        tmp_path,
        [row("R1", time="2024-01-10 10:00", amount="80"), row("R2", time="2026-01-10 10:00", amount="30")],
        actor=chain.hq_admin,
        award_points=True,
    )
    earned = dict(Sale.objects.values_list("request_id", "points_earned"))
    assert earned == {"import:R1": 0, "import:R2": 30}
    assert PointsAccount.objects.get(pk=wang.pk).available == 30
    assert ("Sales too old to earn points (they would have expired)", "1") in result.extra


def test_a_member_in_points_debt_settles_it_from_imported_points_first(tmp_path, chain, clock, wang):
    EarningRuleFactory()
    PointsAccount.objects.create(member=wang, debt=30)
    PointsEntry.objects.create(member=wang, kind="clawback", points=0, debt=30, idempotency_key="old-debt")

    run(tmp_path, [row("R1", amount="100")], actor=chain.hq_admin, award_points=True)

    account = PointsAccount.objects.get(pk=wang.pk)
    assert (account.available, account.debt) == (70, 0)
    assert MemberDailySpend.objects.get(member=wang).points_earned == 100
    assert ledger_mismatches() == []


def test_refunding_an_imported_sale_claws_back_its_points(tmp_path, chain, clock, wang):
    EarningRuleFactory()
    run(tmp_path, [row("R1", store="SH001", amount="100")], actor=chain.hq_admin, award_points=True)
    sale = Sale.objects.get()

    # Imported history is past the refund window: HQ refunds it.
    sale_refund(
        request_id="refund-imported-1", sale=sale, actor=chain.hq_admin, reason="顾客退货", amount=Decimal("50")
    )

    assert PointsAccount.objects.get(pk=wang.pk).available == 50
    stats = MemberStats.objects.get(pk=wang.pk)
    assert stats.total_refunded == Decimal("50.00")
    assert ledger_mismatches() == []


def test_the_in_memory_rule_choice_agrees_with_rule_for(chain):
    other = StoreFactory(code="GZ001")
    EarningRuleFactory(name="base", priority=0)
    EarningRuleFactory(name="spring", priority=5, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31))
    EarningRuleFactory(name="store A", priority=9).stores.add(chain.store_a)
    EarningRuleFactory(name="off", priority=99, is_active=False)
    rules = active_rules()
    for store in (chain.store_a, chain.store_b, other):
        for day in (date(2026, 2, 28), date(2026, 3, 1), date(2026, 3, 31), date(2026, 4, 1)):
            assert pick_rule(rules, store_id=store.pk, day=day) == rule_for(store_id=store.pk, day=day)


# --- tiers -----------------------------------------------------------------------------------------


def test_history_that_reaches_a_tier_upgrades_the_member(tmp_path, chain, clock, wang, li):
    TierFactory(code="normal", rank=0, threshold=Decimal("0"))
    gold = TierFactory(code="gold", rank=1, threshold=Decimal("1000"))
    run(
        tmp_path,
        [
            row("R1", time="2025-06-01 10:00", amount="600"),
            row("R2", time="2026-01-01 10:00", amount="500"),
            row("R3", "13900139000", time="2026-02-01 10:00", amount="20"),
            # Spend older than the 365-day window does not count.
            row("R4", "13900139000", time="2024-01-01 10:00", amount="5000"),
        ],
        actor=chain.hq_admin,
    )
    assert MemberStats.objects.get(pk=wang.pk).tier == gold
    assert MemberStats.objects.get(pk=li.pk).tier.code == "normal"
    change = TierChange.objects.get(member=wang)
    assert (change.from_tier, change.to_tier, change.reason) == (None, gold, TierChange.Reason.IMPORT)


# --- free receipts (¥0): visits that earn nothing ------------------------------------------------------


def test_a_free_receipt_is_a_visit_imported_by_default(tmp_path, chain, clock, wang, li):
    EarningRuleFactory()
    result = run(
        tmp_path,
        [
            row("R1", time="2026-03-01 10:00", amount="100.00"),
            row("R2", time="2026-03-02 10:00", amount="0"),  # a free gift
            # A visit paid wholly by a discount, its lines at ¥0.
            row("R3", "13900139000", "SH001", "2026-03-03 10:00", "0.00", "护肤", "1", "0.00"),
            row("R3", "", "", "", "", "饮料", "2", "0"),
        ],
        actor=chain.hq_admin,
        award_points=True,
    )

    assert (result.created, result.rejected, result.written) == (3, 0, True)
    free = Sale.objects.get(request_id="import:R2")
    assert (free.subtotal, free.total_due, free.points_earned) == (Decimal("0.00"), Decimal("0.00"), 0)
    assert [(line.category, line.net_amount) for line in Sale.objects.get(request_id="import:R3").lines.all()] == [
        ("护肤", Decimal("0.00")),
        ("饮料", Decimal("0.00")),
    ]
    assert MemberStats.objects.filter(pk=wang.pk).values_list("purchase_count", "total_spend").get() == (
        2,
        Decimal("100.00"),
    )
    assert MemberStats.objects.filter(pk=li.pk).values_list("purchase_count", "total_spend").get() == (1, 0)
    assert MemberDailySpend.objects.filter(member=li).values_list("spend", "visits", "points_earned").get() == (
        0,
        1,
        0,
    )
    # Only the paid receipt earned: one entry, one lot.
    assert list(PointsEntry.objects.values_list("member_id", "points")) == [(wang.pk, 100)]
    assert not PointsAccount.objects.filter(pk=li.pk, available__gt=0).exists()
    assert ledger_mismatches() == []


def test_a_negative_amount_is_refused_with_its_line_and_nothing_is_written(tmp_path, chain, clock, wang):
    result = run(tmp_path, [row("R1", amount="0"), row("R2", amount="-0.01"), row("R3")], actor=chain.hq_admin)

    assert not result.written and result.rejected == 1
    assert dict(result.errors) == {
        3: "实付金额: The amount is below zero (a refund?): import sales only, with what was finally paid."
    }
    assert not Sale.objects.exists()


def test_a_member_whose_only_purchase_was_free_is_scored(tmp_path, chain, clock, wang, li):
    from analytics.models import MemberScore
    from analytics.services import score_members

    run(
        tmp_path,
        [row("R1", time="2026-02-01 10:00", amount="80"), row("R2", "13900139000", time="2026-03-01", amount="0")],
        actor=chain.hq_admin,
    )

    result = score_members(as_of=date(2026, 3, 15))

    assert result.members == 2
    score = MemberScore.objects.get(member=li)
    assert (score.frequency, score.monetary, score.recency_days) == (1, Decimal("0.00"), 14)


def test_a_free_imported_sale_has_nothing_to_refund(tmp_path, chain, clock, wang):
    run(tmp_path, [row("R1", amount="0")], actor=chain.hq_admin)
    sale = Sale.objects.get()

    # Imported history is past the refund window: HQ refunds it.
    with pytest.raises(ValidationError) as by_amount:
        sale_refund(request_id="refund-free-1", sale=sale, actor=chain.hq_admin, reason="退货", amount=Decimal("1"))
    with pytest.raises(ValidationError) as by_lines:
        sale_refund(
            request_id="refund-free-2",
            sale=sale,
            actor=chain.hq_admin,
            reason="退货",
            lines=[RefundLineInput(line_no=1, quantity=Decimal("1"))],
        )

    assert by_amount.value.error_dict["amount"][0].code == "refund_exceeds_sale"
    assert by_lines.value.error_dict["lines"][0].code == "invalid_amount"
    assert not Refund.objects.exists()


def test_free_visits_count_towards_a_tier_qualified_by_visits(tmp_path, chain, clock, wang):
    TierPolicy.objects.create(metric=Tier.Metric.VISITS, window_days=365, retention_days=365)
    TierFactory(code="normal", rank=0, threshold=Decimal("0"))
    regular = TierFactory(code="regular", rank=1, threshold=Decimal("2"))

    run(tmp_path, [row("R1", amount="0"), row("R2", time="2026-03-02", amount="0")], actor=chain.hq_admin)

    assert MemberStats.objects.get(pk=wang.pk).tier == regular


# --- bad input -------------------------------------------------------------------------------------


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path, chain, clock, wang):
    result = run(
        tmp_path,
        [
            row("R1"),  # good
            row("R2", phone="13700137000"),  # line 3: no such member
            row("R3", store="XX999"),  # line 4
            row("R4", time="2023-02-30 10:00"),  # line 5
            row("R5", time="2027-01-01 10:00"),  # line 6: future
            row("R6", amount="-20"),  # line 7
            row("R7", amount="abc"),  # line 8
            row("", amount="10"),  # line 9: no receipt number
            row("R9", amount="0"),  # line 10: good (a free gift is a visit)
            row("R10", phone="12345"),  # line 11
            row("R11", quantity="0", category="饮料"),  # line 12
        ],
        actor=chain.hq_admin,
    )

    assert not result.written and result.rejected == 9
    reasons = dict(result.errors)
    assert reasons[3] == "No member has the phone +8613700137000: import the members first, or leave the phone empty."
    assert reasons[4] == "门店编码: Unknown store code “XX999”."
    assert reasons[5] == "消费时间: “2023-02-30 10:00” is not a date that exists."
    assert reasons[6] == "消费时间: The time of the sale cannot be in the future."
    assert (
        reasons[7] == "实付金额: The amount is below zero (a refund?): import sales only, with what was finally paid."
    )
    assert reasons[8] == "实付金额: “abc” is not a number (an amount in ¥)."
    assert reasons[9] == "小票号: Enter the receipt number."
    assert 10 not in reasons
    assert reasons[11].startswith("手机号: ")
    assert reasons[12] == "数量: A quantity must be above zero."
    assert not Sale.objects.exists() and not MemberStats.objects.exists()
    assert AuditEntry.objects.get(action__startswith="sales.").action == "sales.import_rejected"


def test_a_receipt_is_rejected_whole_when_one_of_its_rows_is_bad(tmp_path, chain, clock, wang):
    result = run(
        tmp_path,
        [
            row("R1", category="饮料", quantity="1"),
            row("R1", "", "", "", "", "零食", "x"),
            row("R2", amount="20"),
        ],
        actor=chain.hq_admin,
        skip_bad_rows=True,
    )
    assert result.written and (result.created, result.rejected) == (1, 2)
    assert dict(result.errors) == {
        2: "Another line of this receipt (line 3) is rejected.",
        3: "数量: “x” is not a number (a quantity).",
    }
    assert list(Sale.objects.values_list("request_id", flat=True)) == ["import:R2"]
    assert MemberStats.objects.get(pk=wang.pk).purchase_count == 1


def test_the_rows_of_a_receipt_must_agree(tmp_path, chain, clock, wang, li):
    result = run(
        tmp_path,
        [
            row("R1", "13800138000"),
            row("R1", "13900139000"),
            row("R2", store="SH001"),
            row("R2", store="BJ001"),
            row("R3", time="2026-03-01 10:00"),
            row("R3", time="2026-03-01 11:00"),
            row("R4", amount="10"),
            row("R4", amount="11"),
            row("R5", phone="13800138000", store="", time="", amount="10"),
        ],
        actor=chain.hq_admin,
    )
    reasons = dict(result.errors)
    assert reasons[2] == reasons[3] == "The rows of this receipt have different phones."
    assert reasons[4] == "The rows of this receipt have different stores."
    assert reasons[6] == "The rows of this receipt have different times."
    assert reasons[8] == "The rows of this receipt have different amounts."
    assert reasons[10] == "The receipt has no store code (门店编码)."
    assert not Sale.objects.exists()


def test_line_amounts_must_add_up_to_the_receipt(tmp_path, chain, clock, wang):
    result = run(
        tmp_path,
        [
            row("R1", amount="100", category="饮料", line_amount="60"),
            row("R1", "", "", "", "", "零食", "", "30"),
            row("R2", amount="50", category="饮料", line_amount="20"),
            row("R2", "", "", "", "", "零食", "", ""),
        ],
        actor=chain.hq_admin,
    )
    reasons = dict(result.errors)
    assert reasons[2] == "The lines add up to ¥90.00 but the receipt's amount is ¥100.00."
    assert reasons[4] == "Give every line of this receipt its amount (商品金额), or none."


def test_a_file_without_the_required_columns_is_refused(tmp_path, chain, clock):
    with pytest.raises(ImportFileError, match="The file has no 门店编码、消费时间 column"):
        run(tmp_path, [["R1", "13800138000", "100"]], actor=chain.hq_admin, header=["小票号", "手机号", "实付金额"])
    assert AuditEntry.objects.get(action__startswith="sales.").action == "sales.import_refused"


def test_a_till_cannot_take_the_request_ids_of_imported_sales(chain, clock, wang):
    from django.core.exceptions import ValidationError

    from loyalty.services import LineInput, TenderInput, sale_checkout

    with pytest.raises(ValidationError) as caught:
        sale_checkout(
            request_id="import:R001",
            store=chain.store_a,
            cashier=chain.cashier_a,
            member=wang,
            lines=[LineInput("饮料", Decimal("1"), Decimal("10"))],
            tenders=[TenderInput("cash", Decimal("10"))],
        )
    assert caught.value.error_dict["request_id"][0].code == "invalid_request_id"


def test_only_an_hq_admin_imports_purchase_history(tmp_path, chain, clock, wang):
    for someone in (chain.marketer, chain.manager_a, None):
        with pytest.raises(PermissionDenied):
            run(tmp_path, [row("R1")], actor=someone)
    assert not Sale.objects.exists()


def test_the_error_report_lists_every_bad_row_with_its_cells(tmp_path, chain, clock, wang):
    report = io.BytesIO()
    run(tmp_path, [row("R1"), row("R2", amount="=1+1")], actor=chain.hq_admin, error_report=report)
    lines = list(csv.reader(io.StringIO(report.getvalue().decode("utf-8-sig"))))
    assert lines[0][:3] == ["line", "reason", "小票号"]
    assert lines[1][0] == "3" and lines[1][1].startswith("实付金额: ")
    assert lines[1][2 + 4] == "'=1+1"  # neutralised for Excel


# --- the command -----------------------------------------------------------------------------------


def test_the_command_imports_awards_points_and_summarises(tmp_path, chain, clock, wang, capsys):
    EarningRuleFactory()
    path = write_csv(tmp_path / "h.csv", [row("R1"), row("R2", amount="20")], header=HEADER)

    call_command("import_sales", str(path), "--as", "hq_admin", "--award-points", "--language", "en", verbosity=0)

    out = capsys.readouterr().out
    assert "Imported: h.csv (utf-8), 2 rows" in out
    assert "sales created 2, sales imported before (unchanged) 0, rejected 0" in out
    assert "Points awarded: 120 points on 2 sales" in out
    assert PointsAccount.objects.get(pk=wang.pk).available == 120


def test_the_command_needs_an_hq_admin_and_exits_1_on_bad_rows(tmp_path, chain, clock, wang, capsys):
    path = write_csv(tmp_path / "h.csv", [row("R1", store="XX")], header=HEADER)
    with pytest.raises(CommandError, match="may not import purchase history"):
        call_command("import_sales", str(path), "--as", "marketer", verbosity=0)
    with pytest.raises(CommandError) as caught:
        call_command("import_sales", str(path), "--as", "hq_admin", "--language", "en", verbosity=0)
    assert caught.value.returncode == 1
    assert "line 2: 门店编码: Unknown store code “XX”." in capsys.readouterr().err
    assert not Sale.objects.exists()
