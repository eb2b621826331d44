"""The members export service (members.exports): cells, phones, masking, columns, audit, chunked queries."""

import io
import uuid
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import MemberStats, PointsAccount
from loyalty.services import points_adjust, wallet_top_up
from members.exports import (
    MEMBERS_EXPORTED,
    member_export_prepare,
    member_export_queryset,
    resolve_member_export_columns,
)
from members.models import Member, Tag
from stores.models import AuditEntry
from tests.export_helpers import csv_dicts, csv_rows, xlsx_dicts, xlsx_sheet
from tests.factories import MemberFactory, TagFactory
from tests.factories.loyalty import TierFactory

pytestmark = pytest.mark.django_db

HOSTILE_NAME = '=HYPERLINK("x")'


@pytest.fixture
def people(chain):
    """王芳 (mainland phone, tags, points, stored value, gold tier), Lee (Hong Kong phone, referred by
    王芳, no purchases: the entry tier) and a member whose data came in hostile from an old system."""
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
    hostile = MemberFactory(
        phone="13900001111", name="张伟", home_store=chain.store_a, tags=[TagFactory(name="@SUM(1+1)")]
    )
    # Names are validated at registration; rows imported from an older system may still hold anything.
    Member.objects.filter(pk=hostile.pk).update(
        name=HOSTILE_NAME, email="-2+3@example.com", address='\t=cmd|" /C calc"!A0'
    )
    points_adjust(request_id=str(uuid.uuid4()), member=wang, points=120, reason="开卡礼", actor=chain.hq_admin)
    wallet_top_up(
        request_id=str(uuid.uuid4()),
        member=wang,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        amount=Decimal("100.00"),
    )
    MemberStats.objects.update_or_create(member=wang, defaults={"tier": gold})
    hostile.refresh_from_db()
    return wang, lee, hostile


def export(actor, queryset=None, *, fmt="csv", **kwargs):
    prepared = member_export_prepare(
        actor=actor,
        queryset=queryset if queryset is not None else Member.objects.all(),
        columns=kwargs.pop("columns", None),
        fmt=fmt,
        **kwargs,
    )
    if fmt == "csv":
        return b"".join(prepared.csv_chunks())
    out = io.BytesIO()
    prepared.write_xlsx(out)
    return out.getvalue()


def by_code(rows: list[dict], key="会员编号") -> dict[str, dict]:
    return {row[key]: row for row in rows}


def test_hq_admin_gets_every_default_column_with_chinese_headers(chain, people):
    wang, lee, _hostile = people
    data = export(chain.hq_admin)
    assert csv_rows(data)[0] == [
        "手机号",
        "姓名",
        "性别",
        "生日",
        "邮箱",
        "门店编码",
        "标签",
        "注册时间",
        "积分余额",
        "储值余额",
        "推荐人手机号",
        "会员编号",
        "状态",
        "会员等级",
    ]
    rows = by_code(csv_dicts(data))
    assert rows[wang.code] == {
        "手机号": "13800138000",
        "姓名": "王芳",
        "性别": "女",
        "生日": "1990-05-01",
        "邮箱": "wangfang@example.com",
        "门店编码": "SH001",
        "标签": "VIP,新客",
        "注册时间": timezone.localtime(wang.registered_at).strftime("%Y-%m-%d %H:%M:%S"),
        "积分余额": "170",  # 120 by hand, 50 for the completed profile
        "储值余额": "100.00",
        "推荐人手机号": "",
        "会员编号": wang.code,
        "状态": "正常",
        "会员等级": "金卡",
    }
    # A number outside mainland China stays in E.164, neutralised because of its "+".
    assert rows[lee.code]["手机号"] == "'+85291234567"
    assert rows[lee.code]["推荐人手机号"] == "13800138000"
    # Not bought yet: the entry tier, as the member summary says; no points, no stored value.
    assert (rows[lee.code]["会员等级"], rows[lee.code]["积分余额"], rows[lee.code]["储值余额"]) == (
        "普通会员",
        "0",
        "0.00",
    )
    assert rows[lee.code]["性别"] == "男"


def test_cells_a_spreadsheet_would_run_are_neutralised_in_csv(chain, people):
    _wang, _lee, hostile = people
    row = by_code(csv_dicts(export(chain.hq_admin, columns="member_code,name,email,address,tags")), "会员编号")[
        hostile.code
    ]
    assert row["姓名"] == "'" + HOSTILE_NAME
    assert row["邮箱"] == "'-2+3@example.com"
    assert row["地址"] == '\'\t=cmd|" /C calc"!A0'
    assert row["标签"] == "'@SUM(1+1)"


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+8613800138000", "'+8613800138000"),
        ("-5", "'-5"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("a=1", "a=1"),
        ("王芳", "王芳"),
        ("", ""),
    ],
)
def test_neutralise(stored, written):
    from config.tabular import neutralise

    assert neutralise(stored) == written


def test_xlsx_keeps_hostile_text_as_quote_prefixed_text_cells(chain, people):
    wang, lee, hostile = people
    data = export(
        chain.hq_admin, fmt="xlsx", columns="member_code,phone,name,tags,registered_at,积分余额,储值余额,生日"
    )
    sheet = xlsx_sheet(data)
    header = [cell.value for cell in sheet[1]]
    assert header == ["会员编号", "手机号", "姓名", "标签", "注册时间", "积分余额", "储值余额", "生日"]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    name = cells[hostile.code][2]
    # The value is intact, but it is a text cell that Excel keeps as text even when edited.
    assert (name.value, name.data_type, name.quotePrefix) == (HOSTILE_NAME, "s", True)
    assert cells[hostile.code][3].value == "@SUM(1+1)" and cells[hostile.code][3].quotePrefix
    assert cells[lee.code][1].value == "+85291234567" and cells[lee.code][1].quotePrefix
    assert cells[wang.code][1].value == "13800138000" and cells[wang.code][1].data_type == "s"
    # Typed cells: numbers, dates and local times.
    rows = by_code(xlsx_dicts(data))
    assert rows[wang.code]["积分余额"] == 170
    assert rows[wang.code]["储值余额"] == 100
    assert rows[wang.code]["生日"] == datetime(1990, 5, 1)
    assert rows[wang.code]["注册时间"] == timezone.localtime(wang.registered_at).replace(tzinfo=None, microsecond=0)


def test_marketer_gets_masked_phones_in_every_phone_column(chain, people):
    wang, lee, _hostile = people
    rows = by_code(csv_dicts(export(chain.marketer)))
    assert rows[wang.code]["手机号"] == "138****8000"
    assert rows[lee.code]["手机号"] == "'+85*****4567"
    assert rows[lee.code]["推荐人手机号"] == "138****8000"
    text = export(chain.marketer).decode("utf-8-sig")
    assert "13800138000" not in text and "91234567" not in text


def test_english_headers_carry_the_codes_the_importer_and_api_use(chain, people):
    wang, lee, _hostile = people
    rows = by_code(csv_dicts(export(chain.hq_admin, language="en")), "member_code")
    assert list(rows[wang.code])[:3] == ["phone", "name", "gender"]
    assert (rows[wang.code]["gender"], rows[wang.code]["status"], rows[wang.code]["tier"]) == (
        "female",
        "active",
        "金卡",
    )
    assert rows[lee.code]["stored_value_balance"] == "0.00"


def test_columns_by_key_or_header_in_the_order_asked():
    columns = resolve_member_export_columns("会员编号, phone,Name ,积分余额，tags")
    assert [c.key for c in columns] == ["member_code", "phone", "name", "points_balance", "tags"]
    assert [c.key for c in resolve_member_export_columns(["phone", "手机号"])] == ["phone"]
    assert "tier" in [c.key for c in resolve_member_export_columns(None)]


def test_an_unknown_column_is_refused_with_the_known_ones(chain, people):
    with pytest.raises(ValidationError) as error:
        export(chain.hq_admin, columns="phone,password_hash")
    assert "password_hash" in error.value.messages[0] and "member_code" in error.value.messages[0]
    assert not AuditEntry.objects.filter(action=MEMBERS_EXPORTED).exists()


@pytest.mark.parametrize("fmt", ["pdf", "xls", "../csv"])
def test_an_unknown_format_is_refused_and_not_audited(chain, people, fmt):
    with pytest.raises(ValidationError, match="csv or xlsx"):
        export(chain.hq_admin, fmt=fmt)
    assert not AuditEntry.objects.filter(action=MEMBERS_EXPORTED).exists()


@pytest.mark.parametrize("persona", ["cashier_a", "manager_a"])
def test_roles_without_export_data_are_refused_and_not_audited(chain, people, persona):
    with pytest.raises(PermissionDenied):
        export(getattr(chain, persona))
    assert not AuditEntry.objects.filter(action=MEMBERS_EXPORTED).exists()


def test_every_export_leaves_one_audit_row(chain, people):
    export(chain.marketer, Member.objects.filter(home_store=chain.store_a), columns="phone,name", filters="store=SH001")
    entry = AuditEntry.objects.get(action=MEMBERS_EXPORTED)
    assert entry.actor == chain.marketer
    assert entry.data == {
        "source": "admin",
        "filters": "store=SH001",
        "rows": 2,
        "format": "csv",
        "columns": ["phone", "name"],
        "headers": "zh",
        "phones": "masked",
    }


def test_xlsx_past_excels_row_limit_is_refused_before_the_audit(chain, people, monkeypatch):
    monkeypatch.setattr("config.tabular.XLSX_MAX_ROWS", 2)
    with pytest.raises(ValidationError, match="CSV"):
        export(chain.hq_admin, fmt="xlsx")
    assert not AuditEntry.objects.filter(action=MEMBERS_EXPORTED).exists()
    assert len(csv_rows(export(chain.hq_admin))) == 4


def test_the_command_filters(chain, people):
    wang, lee, hostile = people
    Member.objects.filter(pk=lee.pk).update(status=Member.Status.FROZEN)
    day = timezone.localdate()

    def codes(**filters):
        return set(member_export_queryset(**filters).values_list("code", flat=True))

    assert codes(store=chain.store_a) == {wang.code, hostile.code}
    assert codes(tag=Tag.objects.get(name="VIP")) == {wang.code}
    assert codes(status="frozen") == {lee.code}
    assert codes(search="138") == {wang.code}
    assert codes(registered_from=day, registered_to=day) == {wang.code, lee.code, hostile.code}
    assert codes(registered_to=date(2000, 1, 1)) == set()
    with pytest.raises(ValidationError, match="before the start"):
        member_export_queryset(registered_from=day, registered_to=date(2000, 1, 1))


@pytest.fixture
def five_thousand(chain):
    vip = TagFactory(name="VIP")
    TierFactory(code="NORMAL", name="普通会员", rank=0, threshold=Decimal("0"))
    Member.objects.bulk_create(
        [
            Member(code=f"9{i:09d}", phone=f"+86137{i:08d}", name="批量会员", home_store=chain.store_a)
            for i in range(5000)
        ],
        batch_size=1000,
    )
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True))
    Member.tags.through.objects.bulk_create(
        [Member.tags.through(member_id=pk, tag_id=vip.pk) for pk in ids[::3]], batch_size=1000
    )
    PointsAccount.objects.bulk_create([PointsAccount(member_id=pk, available=7) for pk in ids[::2]], batch_size=1000)
    return ids


@pytest.mark.parametrize(("chunk_size", "chunks"), [(1000, 5), (2500, 2), (5000, 1)])
def test_queries_grow_with_the_chunks_never_with_the_rows(chain, five_thousand, chunk_size, chunks):
    prepared = member_export_prepare(
        actor=chain.hq_admin, queryset=Member.objects.all(), columns=None, fmt="csv", chunk_size=chunk_size
    )
    with CaptureQueriesContext(connection) as queries:
        pieces = list(prepared.csv_chunks())
    # One query for the members (a server-side cursor on PostgreSQL), the entry tier once, and per
    # chunk one query for each source: tags, points, stored value, tier.
    assert len(queries) == 1 + 1 + 4 * chunks, [q["sql"][:80] for q in queries.captured_queries]
    # The file leaves chunk by chunk: the header, then one piece per chunk.
    assert len(pieces) == 1 + chunks
    rows = csv_dicts(b"".join(pieces))
    assert len(rows) == 5000
    assert sum(row["标签"] == "VIP" for row in rows) == 1667
    assert sum(row["积分余额"] == "7" for row in rows) == 2500
    assert {row["会员等级"] for row in rows} == {"普通会员"}
