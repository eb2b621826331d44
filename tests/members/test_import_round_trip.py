"""A members export imported back: "I exported, fixed a few names in Excel, imported it back".

The file is written by the real export service (members.exports, with loyalty's balance and tier
columns) and read by the real import service (members.imports.service); in between, it is edited the
way a person edits it in a spreadsheet.
"""

import csv
import io
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from loyalty.models import LoyaltySettings, MemberStats, PointsAccount, PointsEntry, PointsLot, Wallet, WalletEntry
from loyalty.reconcile import ledger_mismatches
from loyalty.services import points_adjust, wallet_top_up
from members.exports import member_export_columns, member_export_prepare
from members.models import Member
from members.selectors import phone_q
from members.services import member_set_status
from tests.factories import MemberFactory, TagFactory
from tests.factories.loyalty import RechargePackageFactory, TierFactory
from tests.members.import_support import import_file, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def policy(db):
    return LoyaltySettings.current()


@pytest.fixture
def members(chain, policy, tmp_path):
    """王芳 (points, stored value with a bonus, gold tier, two tags), Lee (a Hong Kong phone, referred
    by 王芳, no history), 张伟 (frozen, consent given, a tag a spreadsheet would run as a formula) and 陈静
    (opening points from a first import, spent in part since)."""
    TierFactory(code="NORMAL", name="普通会员", rank=0, threshold=Decimal("0"))
    gold = TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000"))
    wang = MemberFactory(
        phone="13800138000",
        name="王芳",
        gender="female",
        birthday=date(1990, 5, 1),
        email="wangfang@example.com",
        home_store=chain.store_a,
        tags=[TagFactory(name="VIP"), TagFactory(name="新客")],
    )
    lee = MemberFactory(phone="+852 9123 4567", name="Lee", gender="male", home_store=chain.store_b, referrer=wang)
    zhang = MemberFactory(
        phone="13900001111",
        name="张伟",
        home_store=chain.store_a,
        address="上海市徐汇区",
        marketing_consent=True,
        tags=[TagFactory(name="@SUM(1+1)")],
    )
    member_set_status(member=zhang, actor=chain.hq_admin, status=Member.Status.FROZEN, reason="投诉处理中")
    points_adjust(request_id=str(uuid.uuid4()), member=wang, points=1234, reason="开卡礼", actor=chain.hq_admin)
    wallet_top_up(
        request_id=str(uuid.uuid4()),
        member=wang,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(),
    )
    MemberStats.objects.update_or_create(member=wang, defaults={"tier": gold})
    import_file(write_csv(tmp_path / "迁移.csv", [["13700137000", "陈静", *[""] * 6, "500", "", ""]]))
    chen = Member.objects.get(phone_q("+8613700137000"))
    points_adjust(request_id=str(uuid.uuid4()), member=chen, points=-100, reason="兑换", actor=chain.hq_admin)
    return wang, lee, zhang, chen


def export_csv(actor, path: Path, *, language: str = "zh", columns=None) -> Path:
    prepared = member_export_prepare(
        actor=actor, queryset=Member.objects.all(), columns=columns, fmt="csv", language=language
    )
    path.write_bytes(b"".join(prepared.csv_chunks()))
    return path


def edit(path: Path, change) -> Path:
    """Open the CSV, let `change(header, row)` edit each row, save it again (UTF-8 with BOM, as Excel's
    "CSV UTF-8" does)."""
    header, *rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    for row in rows:
        change(header, row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return path


def rename(phone: str, name: str):
    def change(header, row):
        at = header.index("手机号") if "手机号" in header else header.index("phone")
        if row[at] == phone:
            row[header.index("姓名") if "姓名" in header else header.index("name")] = name

    return change


def state() -> dict:
    """Everything the round trip must leave as it was: every member's fields, their tags, tiers and the
    ledgers."""
    return {
        "members": {m["id"]: m for m in Member.objects.values()},
        "tags": sorted(Member.tags.through.objects.values_list("member_id", "tag__name")),
        "tiers": sorted(MemberStats.objects.values_list("member_id", "tier__code")),
        "points entries": PointsEntry.objects.count(),
        "lots": PointsLot.objects.count(),
        "wallet entries": WalletEntry.objects.count(),
        "accounts": sorted(PointsAccount.objects.values_list("member_id", "available", "pending", "debt")),
        "wallets": sorted(Wallet.objects.values_list("member_id", "principal", "bonus")),
    }


def without(snapshot: dict, member_id: int, *fields: str) -> dict:
    members = {pk: dict(values) for pk, values in snapshot["members"].items()}
    for field in fields:
        members[member_id].pop(field)
    return {**snapshot, "members": members}


@pytest.mark.parametrize(
    ("language", "ignored"),
    [("zh", "会员编号、状态、会员等级"), ("en", "member_code、status、tier")],
)
def test_an_export_with_a_name_fixed_imports_back_changing_only_that_name(tmp_path, chain, members, language, ignored):
    _wang, lee, zhang, _chen = members
    path = export_csv(chain.hq_admin, tmp_path / f"members-{language}.csv", language=language)
    assert "'+85291234567" in path.read_text(encoding="utf-8-sig")  # the export neutralised Lee's phone
    edit(path, rename("'+85291234567", "Lee Ka Ho"))
    before = state()

    result = import_file(path, actor=chain.hq_admin)

    assert result.errors == []
    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 1, 3, 0)
    assert result.written
    lee.refresh_from_db()
    assert lee.name == "Lee Ka Ho"
    after = state()
    # The name's blind indexes change with it (members.fields).
    name_columns = ("name", *Member._meta.get_field("name").index_columns)
    assert without(after, lee.pk, *name_columns, "updated_at") == without(before, lee.pk, *name_columns, "updated_at")
    assert after["points entries"] == before["points entries"] and after["wallet entries"] == before["wallet entries"]
    zhang.refresh_from_db()
    assert zhang.status == Member.Status.FROZEN and zhang.marketing_consent
    assert result.ignored_columns == ignored.split("、")
    assert ("Ignored columns", ignored) in result.extra
    assert ("Opening points", "0 members, 0 points") in result.extra
    assert ledger_mismatches() == []


def test_every_column_the_export_can_write_is_understood_in_both_languages(tmp_path, chain, members):
    keys = [column.key for column in member_export_columns()]
    for language in ("zh", "en"):
        path = export_csv(chain.hq_admin, tmp_path / f"all-{language}.csv", language=language, columns=keys)
        before = state()

        result = import_file(path, actor=chain.hq_admin)

        assert (result.rows, result.unchanged, result.rejected) == (4, 4, 0), result.errors
        assert len(result.ignored_columns) == 8
        assert state() == before
    assert result.ignored_columns == [
        "member_code",
        "status",
        "tier",
        "store_name",
        "marketing_consent",
        "registration_channel",
        "stored_value_principal",
        "stored_value_bonus",
    ]
    assert ledger_mismatches() == []


def test_an_export_saved_again_by_excel_imports_back_unchanged(tmp_path, chain, members):
    """Excel saves dates and times as it shows them (1990/5/1, 2024/3/5 14:07: the seconds are lost),
    amounts without trailing zeros, and keeps the apostrophes: none of it is a change."""
    path = export_csv(chain.hq_admin, tmp_path / "excel.csv")

    def as_excel_saves(header, row):
        for name in ("生日", "注册时间"):
            at = header.index(name)
            if row[at]:
                day, _, time = row[at].partition(" ")
                y, m, d = day.split("-")
                row[at] = f"{y}/{int(m)}/{int(d)}" + (f" {int(time[:2])}:{time[3:5]}" if time else "")
        at = header.index("储值余额")
        row[at] = row[at].removesuffix(".00")

    edit(path, as_excel_saves)
    before = state()

    result = import_file(path, actor=chain.hq_admin)

    assert (result.updated, result.unchanged, result.rejected) == (0, 4, 0), result.errors
    assert state() == before


def test_importing_an_export_twice_changes_nothing(tmp_path, chain, members):
    path = edit(export_csv(chain.hq_admin, tmp_path / "twice.csv"), rename("13800138000", "王芳芳"))
    assert import_file(path, actor=chain.hq_admin).updated == 1
    before = state()
    again = import_file(path, actor=chain.hq_admin)
    assert (again.updated, again.unchanged, again.rejected) == (0, 4, 0)
    assert state() == before
