"""The members import (members.imports.service), on files as chains bring them."""

import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import tablib
from django.core.management import call_command
from django.utils import timezone, translation

from loyalty.models import LoyaltySettings, PointsAccount, PointsEntry, PointsLot, Wallet, WalletEntry
from loyalty.reconcile import ledger_mismatches
from loyalty.services import points_adjust, wallet_top_up
from members.imports.reader import ImportFileError
from members.models import Member, Tag
from members.resources import MemberResource
from members.selectors import phone_q
from members.services import member_set_status
from stores.models import AuditEntry
from tests.factories import MemberFactory, TagFactory
from tests.factories.loyalty import RechargePackageFactory
from tests.members.import_support import HEADER_ZH, counts, import_file, write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    # Reasons are asserted in English; the Chinese catalogue is the translators' business.
    with translation.override("en"):
        yield


@pytest.fixture
def policy(db):
    return LoyaltySettings.current()


def row(phone="13800138000", name="王芳", gender="", birthday="", email="", store="", tags="", registered="",
        points="", stored_value="", referrer=""):  # fmt: skip
    return [phone, name, gender, birthday, email, store, tags, registered, points, stored_value, referrer]


def snapshot() -> dict:
    return {
        "members": Member.objects.count(),
        "tags": Tag.objects.count(),
        "links": Member.tags.through.objects.count(),
        "points entries": PointsEntry.objects.count(),
        "lots": PointsLot.objects.count(),
        "accounts": PointsAccount.objects.count(),
        "wallets": Wallet.objects.count(),
        "wallet entries": WalletEntry.objects.count(),
    }


# --- a good file ---------------------------------------------------------------------------------


def test_a_chinese_file_creates_members_with_store_tags_referrer_and_opening_balances(tmp_path, chain, policy):
    path = write_csv(
        tmp_path / "会员.csv",
        [
            row(
                "13800138000",
                "王芳",
                "女",
                "1990-05-21",
                "wf@example.com",
                "SH001",
                "VIP，宝妈",
                "2023-01-02 10:00",
                "500",
                "100.50",
            ),
            row("+86 139-0013-9000", "李娜", "F", "1988/7/1", "", "bj001", "学生|VIP", "", "", "", "13800138000"),
            row("0086 137 0013 7000", "张伟", "男", "", "", "", "", "2022年3月4日", "0", "", "+8613900139000"),
        ],
        encoding="utf-8-sig",
    )
    result = import_file(path, actor=chain.hq_admin)

    assert counts(result) == {"created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert result.written and result.encoding == "utf-8"
    wang = Member.objects.get(phone_q("+8613800138000"))
    li = Member.objects.get(phone_q("+8613900139000"))
    zhang = Member.objects.get(phone_q("+8613700137000"))
    assert (wang.name, wang.gender, str(wang.birthday), wang.email) == (
        "王芳",
        "female",
        "1990-05-21",
        "wf@example.com",
    )
    assert wang.home_store == chain.store_a and li.home_store == chain.store_b and zhang.home_store is None
    assert timezone.localtime(wang.registered_at).strftime("%Y-%m-%d %H:%M") == "2023-01-02 10:00"
    assert timezone.localtime(zhang.registered_at).strftime("%Y-%m-%d %H:%M") == "2022-03-04 00:00"
    assert sorted(wang.tags.values_list("name", flat=True)) == ["VIP", "宝妈"]
    assert sorted(li.tags.values_list("name", flat=True)) == ["VIP", "学生"]
    assert li.referrer == wang and zhang.referrer == li and wang.referrer is None
    assert {m.registration_channel for m in (wang, li, zhang)} == {Member.Channel.IMPORT}
    assert wang.registered_by == chain.hq_admin
    assert len({wang.code, li.code, zhang.code}) == 3
    assert PointsAccount.objects.get(pk=wang.pk).available == 500
    assert Wallet.objects.get(pk=wang.pk).principal == Decimal("100.50")
    assert not PointsAccount.objects.filter(pk=zhang.pk).exists()  # an opening balance of 0 opens nothing
    audit = AuditEntry.objects.get(action="members.imported")
    assert audit.actor == chain.hq_admin
    assert audit.data["file"] == "会员.csv" and audit.data["created"] == 3 and audit.data["mode"] == "all_or_nothing"


def test_english_headers_in_any_case_and_spacing_are_understood(tmp_path, chain):
    header = ["Phone Number", " name ", "SEX", "Date of Birth", "E-mail", "Store Code", "Tags", "Registered At",
              "Points", "Stored value (¥)", "Referred by"]  # fmt: skip
    path = write_csv(tmp_path / "en.csv", [row("13800138000", "Wang Fang", "female", "1990-05-21")], header=header)
    result = import_file(path)
    assert result.created == 1
    assert Member.objects.get().name == "Wang Fang"


def test_gbk_file_without_a_byte_order_mark(tmp_path, chain):
    path = write_csv(
        tmp_path / "gbk.csv", [row("13800138000", "王芳", "女", store="SH001", tags="会员日")], encoding="gbk"
    )
    result = import_file(path)
    assert result.encoding == "gb18030" and result.created == 1
    member = Member.objects.get()
    assert (member.name, member.gender) == ("王芳", "female")
    assert list(member.tags.values_list("name", flat=True)) == ["会员日"]


def test_mixed_line_endings_and_line_breaks_inside_cells(tmp_path, chain):
    body = (
        '手机号,姓名,地址\r\n13800138000,王芳,"上海市\r\n徐汇区"\n13900139000,李娜,北京\r13700137000,,"没有\n名字"\r\n'
    )
    path = tmp_path / "mixed.csv"
    path.write_bytes(body.encode())
    result = import_file(path, skip_bad_rows=True)
    assert result.created == 2
    assert Member.objects.get(phone_q("+8613800138000")).address == "上海市\r\n徐汇区"
    assert result.errors == [(5, "A new member needs a name.")]


# --- the same file again, updates ----------------------------------------------------------------


def test_the_same_file_twice_changes_nothing_the_second_time(tmp_path, chain, policy):
    path = write_csv(
        tmp_path / "twice.csv",
        [
            row("13800138000", "王芳", "女", "1990-05-21", "", "SH001", "VIP", "2023-01-02 10:00", "500", "88.80"),
            row("13900139000", "李娜", referrer="13800138000", tags="学生;VIP"),
        ],
    )
    import_file(path, actor=chain.hq_admin)
    before = snapshot()
    stamps = dict(Member.objects.values_list("phone", "updated_at"))

    again = import_file(path, actor=chain.hq_admin)

    assert counts(again) == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert snapshot() == before
    assert dict(Member.objects.values_list("phone", "updated_at")) == stamps
    assert again.extra == [("Opening points", "0 members, 0 points"), ("Opening stored value", "0 members, ¥0.00")]
    assert ledger_mismatches() == []


def test_an_existing_member_changes_only_where_the_file_has_a_value(tmp_path, chain):
    member = MemberFactory(phone="13800138000", name="王芳", birthday=timezone.localdate() - timedelta(days=9000),
                           email="old@example.com", home_store=chain.store_a, tags=[TagFactory(name="老客")])  # fmt: skip  # noqa: E501
    path = write_csv(tmp_path / "update.csv", [row("138 0013 8000", "王芳芳", store="BJ001", tags="VIP")])

    result = import_file(path)

    assert counts(result) == {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    member.refresh_from_db()
    assert (member.name, member.email, member.home_store) == ("王芳芳", "old@example.com", chain.store_b)
    assert member.birthday is not None
    assert list(member.tags.values_list("name", flat=True)) == ["VIP"]
    assert member.registration_channel == Member.Channel.STORE  # how the member first registered stays


def test_a_member_whose_only_change_is_a_tag_counts_as_updated(tmp_path, chain):
    MemberFactory(phone="13800138000", name="王芳", tags=[TagFactory(name="VIP")])
    path = write_csv(tmp_path / "tags.csv", [row("13800138000", "王芳", tags="VIP,宝妈")])
    assert counts(import_file(path))["updated"] == 1
    assert counts(import_file(path))["unchanged"] == 1


def test_a_referrer_already_registered_and_one_further_down_the_file(tmp_path, chain):
    old = MemberFactory(phone="13500135000", name="老会员")
    path = write_csv(
        tmp_path / "referrers.csv",
        [row("13800138000", "王芳", referrer="13900139000"), row("13900139000", "李娜", referrer="135-0013-5000")],
    )
    assert import_file(path).created == 2
    li = Member.objects.get(phone_q("+8613900139000"))
    assert Member.objects.get(phone_q("+8613800138000")).referrer == li
    assert li.referrer == old


# --- bad input: each reported with its line and reason, nothing half-written ------------------------


BAD_ROWS = [
    ("12345", row("12345", "王芳"), "手机号: “12345” is not a valid phone number."),
    ("letters for a phone", row("abc", "王芳"), "手机号: “abc” is not a phone number."),
    ("no phone", row("", "王芳"), "手机号: Enter a phone number."),
    ("landline", row("021-64281234", "王芳"), "手机号: Enter a mobile phone number."),
    ("masked phone", row("138****8000", "王芳"),
     "手机号: “138****8000” is a masked phone number: export the members with full phone numbers."),
    ("unknown store", row(store="XX999"), "门店编码: Unknown store code “XX999”."),
    ("impossible date", row(birthday="2023-02-30"), "生日: “2023-02-30” is not a date that exists."),
    ("not a date", row(birthday="30/02/2023"), "生日: “30/02/2023” is not a date; write it like 1990-05-21."),
    ("future birthday", row(birthday="2999-01-01"), "生日: The birthday cannot be in the future."),
    ("future registration", row(registered="2999-01-01 10:00"), "注册时间: The registration time cannot be in the future."),  # noqa: E501
    ("impossible time", row(registered="2023-01-01 25:00"), "注册时间: “2023-01-01 25:00” is not a date that exists."),
    ("negative points", row(points="-5"), "积分余额: A balance cannot be negative."),
    ("negative stored value", row(stored_value="-0.01"), "储值余额: A balance cannot be negative."),
    ("non-numeric points", row(points="很多"), "积分余额: “很多” is not a number (points)."),
    ("non-numeric money", row(stored_value="12,3a"), "储值余额: “12,3a” is not a number (an amount in ¥)."),
    ("three decimals", row(stored_value="10.005"), "储值余额: “10.005” has more than two decimals."),
    ("fractional points", row(points="10.5"), "积分余额: Points are whole numbers; “10.5” is not."),
    ("bad gender", row(gender="X"), "性别: “X” is not a gender: write 男, 女, 未知, male, female, M or F."),
    ("bad email", row(email="not-an-email"), "邮箱: “not-an-email” is not an email address."),
    ("formula name", row(name="=HYPERLINK(1)"), "姓名: A name may contain letters of any language only; “=” is not allowed."),  # noqa: E501
    ("SQL-ish name", row(name="'; DROP TABLE--"), "姓名: A name may contain letters of any language only; “;” is not allowed."),  # noqa: E501
    ("emoji name", row(name="王芳😀"), "姓名: A name may contain letters of any language only; “😀” is not allowed."),
    ("own referrer", row(referrer="+86 13800138000"), "A member cannot refer themselves."),
    ("unknown referrer", row(referrer="13999999999"),
     "No member has the referrer's phone +8613999999999, in this file or already registered."),
    ("new member without a name", row(name=""), "A new member needs a name."),
]  # fmt: skip


@pytest.mark.parametrize(("case", "bad", "reason"), BAD_ROWS, ids=[case for case, *_ in BAD_ROWS])
def test_a_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path, chain, policy, case, bad, reason):
    good = row("13900139000", "李娜", points="100", stored_value="50", tags="VIP")
    path = write_csv(tmp_path / "bad.csv", [good, bad])
    before = snapshot()

    result = import_file(path, actor=chain.hq_admin)

    assert result.errors == [(3, reason)]
    assert not result.written and result.rejected == 1
    assert snapshot() == before
    assert AuditEntry.objects.get(action="members.import_rejected").data["rejected"] == 1


def test_the_same_phone_written_differently_reports_the_later_line_and_names_the_first(tmp_path, chain):
    path = write_csv(
        tmp_path / "dupes.csv",
        [row("13800138000", "王芳"), row("13900139000", "李娜"), row("+86 138-0013-8000", "王芳二")],
    )
    result = import_file(path)
    assert result.errors == [(4, "The same phone number as line 2.")]
    assert Member.objects.count() == 0


def test_every_bad_row_of_a_file_is_reported_not_only_the_first(tmp_path, chain):
    path = write_csv(tmp_path / "many.csv", [row("1"), row("13900139000", "李娜"), row(birthday="2023-13-01")])
    result = import_file(path)
    assert [line for line, _reason in result.errors] == [2, 4]
    assert result.rejected == 2 and result.created == 1 and not result.written


def test_a_row_with_several_problems_lists_them_all(tmp_path, chain):
    path = write_csv(tmp_path / "several.csv", [row("12", "王芳", birthday="2023-02-30", store="NOPE")])
    (_line, reason), = import_file(path).errors  # fmt: skip
    assert reason.split("; ") == [
        "手机号: “12” is not a valid phone number.",
        "生日: “2023-02-30” is not a date that exists.",
        "门店编码: Unknown store code “NOPE”.",
    ]


def test_a_row_with_too_many_columns_is_bad(tmp_path, chain):
    path = write_csv(tmp_path / "wide.csv", [row("13900139000", "李娜"), [*row(), "extra"]])
    assert import_file(path).errors == [(3, "This row has 12 cells but the header has 11 columns.")]
    assert Member.objects.count() == 0


def test_a_ten_megabyte_cell_is_a_bad_row(tmp_path, chain):
    path = tmp_path / "huge.csv"
    path.write_bytes(b"phone,name\n13900139000,Li\n13800138000," + b"x" * (10 * 1024 * 1024) + b"\n13700137000,Zh\n")
    assert not import_file(path).written
    assert Member.objects.count() == 0
    result = import_file(path, skip_bad_rows=True)
    assert [line for line, _reason in result.errors] == [3]
    assert "longer than" in result.errors[0][1]
    assert Member.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        ("手机号,姓名\r\n".encode(), "The file has a header but no rows."),
        ("姓名,性别\r\n王芳,女\r\n".encode(), "The file has no 手机号 column."),
        ("手机号,姓名,微信号\r\n13800138000,王芳,wangfang88\r\n".encode(), "Unknown column(s): “微信号”."),
        (
            "手机号,Phone\r\n13800138000,13800138000\r\n".encode(),
            "The columns “手机号” and “Phone” are the same column",
        ),
        ("手机号,,姓名\r\n".encode(), "Column 2 of the header has no name"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "it looks like XLSX"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "it looks like PNG"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_with_the_reason(tmp_path, chain, content, message):
    path = tmp_path / "refused.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as error:
        import_file(path, actor=chain.hq_admin)
    assert message in error.value.message
    assert Member.objects.count() == 0
    assert AuditEntry.objects.get(action="members.import_refused").data["reason"] == error.value.message


# --- modes ---------------------------------------------------------------------------------------


def test_skip_mode_writes_the_good_rows_and_reports_the_bad_ones(tmp_path, chain, policy):
    path = write_csv(
        tmp_path / "skip.csv",
        [row("13800138000", "王芳", points="100"), row("bad", "李娜", points="200"), row("13700137000", "张伟")],
    )
    report = io.BytesIO()
    result = import_file(path, skip_bad_rows=True, error_report=report)

    assert counts(result) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert set(Member.objects.values_list("name", flat=True)) == {"王芳", "张伟"}
    assert PointsEntry.objects.get().points == 100
    lines = report.getvalue().decode("utf-8-sig").splitlines()
    assert lines == [
        "line,reason," + ",".join(HEADER_ZH),
        "3,手机号: “bad” is not a phone number.,bad,李娜,,,,,,,200,,",
    ]


def test_the_error_report_neutralises_formulas_and_keeps_the_cells_of_unreadable_rows(tmp_path, chain):
    path = write_csv(tmp_path / "formula.csv", [row("=1+2", "=CMD()"), row("13800138000", "王芳", points="-5")])
    report = io.BytesIO()
    import_file(path, error_report=report)
    lines = report.getvalue().decode("utf-8-sig").splitlines()
    assert lines[1].startswith("2,") and ",'=1+2,'=CMD()," in lines[1]
    assert lines[2].startswith("3,") and lines[2].endswith(",-5,,")  # a plain negative number is not a formula


def test_a_dry_run_counts_what_would_happen_and_writes_nothing(tmp_path, chain, policy):
    MemberFactory(phone="13800138000", name="王芳")
    path = write_csv(
        tmp_path / "dry.csv",
        [row("13800138000", "王芳芳"), row("13900139000", "李娜", points="300"), row("x"), row("13700137000", "张伟")],
    )
    before = snapshot()

    result = import_file(path, dry_run=True, skip_bad_rows=True, actor=chain.hq_admin)

    assert counts(result) == {"created": 2, "updated": 1, "unchanged": 0, "rejected": 1}
    assert result.dry_run and not result.written
    assert result.extra[0] == ("Opening points", "1 members, 300 points")
    assert snapshot() == before
    assert Member.objects.get().name == "王芳"
    assert AuditEntry.objects.get(action="members.import_dry_run").data["created"] == 2


# --- opening balances ------------------------------------------------------------------------------


def test_opening_balances_become_ledger_entries_with_lots_that_expire_by_the_policy(tmp_path, chain, policy):
    policy.expiry_policy, policy.expiry_months = LoyaltySettings.ExpiryPolicy.ROLLING, 6
    policy.save()
    path = write_csv(
        tmp_path / "open.csv", [row("13800138000", "王芳", store="SH001", points="1,200", stored_value="¥300")]
    )

    import_file(path, actor=chain.hq_admin)

    member = Member.objects.get()
    entry = PointsEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.idempotency_key) == (PointsEntry.Kind.OPENING, 1200, "opening:points")
    assert (entry.store, entry.staff) == (chain.store_a, chain.hq_admin)
    lot = PointsLot.objects.get(entry=entry)
    assert (lot.points, lot.remaining, lot.is_pending) == (1200, 1200, False)
    expected = timezone.localdate() + timedelta(days=181)
    assert abs((timezone.localtime(lot.expires_at).date() - expected).days) <= 3
    account = PointsAccount.objects.get(pk=member.pk)
    assert (account.available, account.pending, account.lifetime_earned) == (1200, 0, 1200)
    wallet_entry = WalletEntry.objects.get(member=member)
    assert (wallet_entry.kind, wallet_entry.principal, wallet_entry.bonus) == ("opening", Decimal("300.00"), 0)
    assert wallet_entry.idempotency_key == "opening:wallet"
    wallet = Wallet.objects.get(pk=member.pk)
    assert (wallet.principal, wallet.bonus) == (Decimal("300.00"), Decimal("0.00"))
    call_command("reconcile_ledger", stdout=io.StringIO())


def test_points_that_never_expire_get_a_lot_without_expiry(tmp_path, chain, policy):
    policy.expiry_policy = LoyaltySettings.ExpiryPolicy.NEVER
    policy.save()
    import_file(write_csv(tmp_path / "never.csv", [row(points="10")]))
    assert PointsLot.objects.get().expires_at is None


def test_an_opening_balance_of_another_amount_is_refused_once_one_was_imported(tmp_path, chain, policy):
    import_file(write_csv(tmp_path / "first.csv", [row(points="500", stored_value="100")]))
    path = write_csv(tmp_path / "second.csv", [row(points="800", stored_value="100")])

    result = import_file(path)

    assert result.errors == [(2, "Opening points were already imported as 500; this file says 800.")]
    assert PointsAccount.objects.get().available == 500


def test_a_member_in_points_debt_has_a_history_and_gets_no_opening_points(tmp_path, chain, policy):
    member = MemberFactory(phone="13800138000", name="王芳")
    PointsAccount.objects.create(member=member, available=0, debt=30)
    PointsEntry.objects.create(member=member, kind="clawback", points=0, debt=30, idempotency_key="test:debt")
    other = MemberFactory(phone="13900139000", name="李娜")
    path = write_csv(
        tmp_path / "debt.csv", [row("13800138000", "王芳", points="100"), row("13900139000", "李娜", points="50")]
    )

    result = import_file(path, skip_bad_rows=True)

    assert result.errors == [
        (
            2,
            "This member already has a points history (balance 0). Opening points are only imported for members "
            "without one: adjust points in the back office instead.",
        )
    ]
    account = PointsAccount.objects.get(pk=member.pk)
    assert (account.available, account.debt) == (0, 30)
    assert PointsAccount.objects.get(pk=other.pk).available == 50
    assert ledger_mismatches() == []


@pytest.fixture
def with_history(chain, policy):
    """王芳, who earned 1,234 points and topped up 充500送50 (¥550.00) in store: a points and a
    stored-value history, no opening balance."""
    member = MemberFactory(phone="13800138000", name="王芳", home_store=chain.store_a)
    points_adjust(request_id=str(uuid.uuid4()), member=member, points=1234, reason="开卡礼", actor=chain.hq_admin)
    wallet_top_up(
        request_id=str(uuid.uuid4()),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(),
    )
    return member


def test_balances_equal_to_the_members_current_ones_are_no_change(tmp_path, chain, with_history):
    # What the members export writes for this member: the balances they have now.
    path = write_csv(tmp_path / "same.csv", [row("13800138000", "王芳", points="1,234", stored_value="550.00")])
    before = snapshot()

    result = import_file(path, actor=chain.hq_admin)

    assert counts(result) == {"created": 0, "updated": 0, "unchanged": 1, "rejected": 0}
    assert result.extra[:2] == [("Opening points", "0 members, 0 points"), ("Opening stored value", "0 members, ¥0.00")]
    assert snapshot() == before
    assert not PointsEntry.objects.filter(kind=PointsEntry.Kind.OPENING).exists()
    assert ledger_mismatches() == []


def test_other_balances_for_a_member_with_history_are_a_bad_row_that_says_why(tmp_path, chain, with_history):
    path = write_csv(tmp_path / "other.csv", [row("13800138000", "王芳芳", points="2000", stored_value="50")])
    before = snapshot()

    result = import_file(path, actor=chain.hq_admin)

    ((line, reason),) = result.errors
    assert line == 2 and reason.split("; ") == [
        "This member already has a points history (balance 1,234). Opening points are only imported for members "
        "without one: adjust points in the back office instead.",
        "This member already has a stored-value history (balance ¥550.00). Opening stored value is only imported "
        "for members without one: stored value changes by top-ups, payments and refunds only.",
    ]
    assert not result.written and snapshot() == before
    assert Member.objects.get().name == "王芳"


def test_a_zero_balance_for_a_member_with_history_is_a_bad_row_too(tmp_path, chain, with_history):
    # Emptying the cell keeps the balance; a 0 would say that the points are gone, and they are not.
    result = import_file(write_csv(tmp_path / "zero.csv", [row("13800138000", "王芳", points="0")]))
    assert result.errors == [
        (
            2,
            "This member already has a points history (balance 1,234). Opening points are only imported for members "
            "without one: adjust points in the back office instead.",
        )
    ]


def test_a_member_without_history_gets_opening_balances_as_before(tmp_path, chain, policy):
    member = MemberFactory(phone="13800138000", name="王芳", home_store=chain.store_a)
    path = write_csv(tmp_path / "open.csv", [row("13800138000", "王芳", points="300", stored_value="88.80")])

    result = import_file(path, actor=chain.hq_admin)

    assert counts(result) == {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    assert result.extra == [("Opening points", "1 members, 300 points"), ("Opening stored value", "1 members, ¥88.80")]
    entry = PointsEntry.objects.get(member=member)
    assert (entry.kind, entry.points, entry.idempotency_key) == (PointsEntry.Kind.OPENING, 300, "opening:points")
    assert WalletEntry.objects.get(member=member).principal == Decimal("88.80")
    assert counts(import_file(path))["unchanged"] == 1
    assert PointsEntry.objects.count() == 1 and WalletEntry.objects.count() == 1
    assert ledger_mismatches() == []


def test_each_ledger_is_judged_on_its_own_history(tmp_path, chain, policy):
    # A member who only topped up still brings their points from the previous system, and the other way round.
    topped_up = MemberFactory(phone="13800138000", name="王芳", home_store=chain.store_a)
    wallet_top_up(
        request_id=str(uuid.uuid4()),
        member=topped_up,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        amount=Decimal("100.00"),
    )
    path = write_csv(tmp_path / "one.csv", [row("13800138000", "王芳", points="300", stored_value="100")])

    result = import_file(path)

    assert result.errors == [] and result.updated == 1
    assert PointsAccount.objects.get(pk=topped_up.pk).available == 300
    assert Wallet.objects.get(pk=topped_up.pk).principal == Decimal("100.00")
    assert not WalletEntry.objects.filter(kind="opening").exists()


def test_the_migration_file_again_after_the_member_spent_changes_nothing(tmp_path, chain, policy):
    path = write_csv(tmp_path / "migration.csv", [row("13800138000", "王芳", points="500", stored_value="100")])
    import_file(path)
    member = Member.objects.get()
    points_adjust(request_id=str(uuid.uuid4()), member=member, points=-120, reason="兑换", actor=chain.hq_admin)
    before = snapshot()

    again = import_file(path)  # 500: the opening balance this member was given
    export = import_file(write_csv(tmp_path / "export.csv", [row("13800138000", "王芳", points="380")]))
    other = import_file(write_csv(tmp_path / "other.csv", [row("13800138000", "王芳", points="450")]))

    assert (again.unchanged, again.rejected) == (1, 0)
    assert (export.unchanged, export.rejected) == (1, 0)
    assert other.errors == [(2, "Opening points were already imported as 500; this file says 450.")]
    assert snapshot() == before
    assert PointsAccount.objects.get(pk=member.pk).available == 380


# --- files the members export wrote ------------------------------------------------------------


def test_the_apostrophe_an_export_puts_before_a_formula_character_is_removed(tmp_path, chain):
    header = ["手机号", "姓名", "标签", "地址", "推荐人手机号"]
    path = write_csv(
        tmp_path / "quoted.csv",
        [
            ["'+85291234567", "Lee", "'@VIP,新客", "'-1 号楼", ""],
            ["13800138000", "王芳", "", "'t Hooft 路", "'+85291234567"],
        ],
        header=header,
    )

    result = import_file(path)

    assert result.errors == [] and result.created == 2
    lee = Member.objects.get(phone_q("+85291234567"))
    assert sorted(lee.tags.values_list("name", flat=True)) == ["@VIP", "新客"]
    assert lee.address == "-1 号楼"
    wang = Member.objects.get(phone_q("+8613800138000"))
    assert wang.referrer == lee
    assert wang.address == "'t Hooft 路"  # an apostrophe before anything else is the cell's own


def test_the_export_columns_the_import_must_not_write_are_read_past_and_reported(tmp_path, chain):
    member = MemberFactory(phone="13800138000", name="王芳", home_store=chain.store_a)
    member_set_status(member=member, actor=chain.hq_admin, status=Member.Status.FROZEN, reason="投诉处理中")
    header = [
        "手机号",
        "姓名",
        "会员编号",
        "状态",
        "营销许可",
        "注册渠道",
        "门店名称",
        "会员等级",
        "储值本金",
        "储值赠金",
    ]
    path = write_csv(
        tmp_path / "ignored.csv",
        [["13800138000", "王芳芳", "99999999", "正常", "是", "线上商城", "北京朝阳店", "金卡", "500", "50"]],
        header=header,
    )

    result = import_file(path, actor=chain.hq_admin)

    assert counts(result) == {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    assert result.ignored_columns == header[2:]
    assert result.extra[-1] == ("Ignored columns", "、".join(header[2:]))
    after = Member.objects.get()
    assert after.name == "王芳芳"
    assert (after.code, after.status, after.marketing_consent, after.consent_at) == (
        member.code,
        Member.Status.FROZEN,
        False,
        None,
    )
    assert (after.registration_channel, after.home_store) == (Member.Channel.STORE, chain.store_a)
    assert not Wallet.objects.exists()
    audit = AuditEntry.objects.get(action="members.imported")
    assert audit.data["ignored_columns"] == header[2:]


def test_ignored_columns_in_english_as_the_export_writes_them(tmp_path, chain):
    header = ["phone", "name", "member_code", "status", "tier", "store_name", "marketing_consent",
              "registration_channel", "stored_value_principal", "stored_value_bonus"]  # fmt: skip
    path = write_csv(tmp_path / "en.csv", [["13800138000", "Wang Fang", "12345678", "frozen", "Gold", "", "yes",
                                            "online", "0.00", "0.00"]], header=header)  # fmt: skip
    result = import_file(path)
    assert result.created == 1 and result.ignored_columns == header[2:]
    assert Member.objects.get().status == Member.Status.ACTIVE


def test_reconcile_ledger_passes_after_a_larger_import(tmp_path, chain, policy):
    rows = [
        row(f"138{i:08d}", "王芳", points=str(i * 7 % 900) if i % 3 else "", stored_value=f"{i % 50}.{i % 100:02d}")
        for i in range(1, 400)
    ]
    result = import_file(write_csv(tmp_path / "many.csv", rows), actor=chain.hq_admin)
    assert result.created == 399
    out = io.StringIO()
    call_command("reconcile_ledger", stdout=out)
    assert "all balanced" in out.getvalue()


# --- the django-import-export resource ----------------------------------------------------------------


def test_the_resource_applies_the_same_rules_row_by_row(tmp_path, chain):
    dataset = tablib.Dataset(headers=["手机号", "姓名", "生日", "门店编码", "标签"])
    dataset.append(["+86 138-0013-8000", "王芳", "1990-05-21", "SH001", "VIP;宝妈"])
    dataset.append(["13900139000", "李娜", "2023-02-30", "SH001", ""])

    result = MemberResource().import_data(dataset, dry_run=False, raise_errors=False)

    assert result.has_validation_errors()
    invalid = result.invalid_rows[0]
    assert invalid.error_dict == {"birthday": ["“2023-02-30” is not a date that exists."]}
    member = Member.objects.get()
    assert (member.phone, member.home_store, member.registration_channel) == ("+8613800138000", chain.store_a, "import")
    assert sorted(member.tags.values_list("name", flat=True)) == ["VIP", "宝妈"]


def test_member_codes_that_collide_are_drawn_again(tmp_path, chain, monkeypatch):
    from members.imports import service

    taken = MemberFactory(phone="13500135000", name="老会员").code
    real = service.new_member_codes
    calls = []

    def colliding(count):
        calls.append(count)
        if len(calls) == 1:  # while staging: every row gets the code an existing member has
            return iter([taken] * min(count, 10))
        return real(count)

    monkeypatch.setattr(service, "new_member_codes", colliding)
    result = import_file(write_csv(tmp_path / "codes.csv", [row(f"1380013800{i}", "王芳") for i in range(3)]))
    assert result.created == 3
    codes = list(Member.objects.values_list("code", flat=True))
    assert len(set(codes)) == 4 and codes.count(taken) == 1


def test_two_new_members_may_refer_each_other(tmp_path, chain):
    path = write_csv(tmp_path / "cycle.csv", [row("13800138000", "王芳", referrer="13900139000"),
                                              row("13900139000", "李娜", referrer="13800138000")])  # fmt: skip
    assert import_file(path).created == 2
    wang, li = Member.objects.get(phone_q("+8613800138000")), Member.objects.get(phone_q("+8613900139000"))
    assert (wang.referrer, li.referrer) == (li, wang)


@pytest.mark.postgres
def test_a_member_registered_at_a_till_during_the_import_is_updated_not_duplicated(
    tmp_path, chain, policy, monkeypatch
):
    from members.imports import service

    write = service._Run.write

    def till_registers_first(run):
        # Between the check and the write, a till registers one of the file's new phones.
        MemberFactory(phone="13900139000", name="平板", home_store=chain.store_a)
        write(run)

    monkeypatch.setattr(service._Run, "write", till_registers_first)
    path = write_csv(
        tmp_path / "race.csv",
        [row("13800138000", "王芳", points="10"), row("13900139000", "李娜", tags="VIP", points="20")],
    )
    result = import_file(path)

    assert (result.created, result.updated) == (1, 1)
    li = Member.objects.get(phone_q("+8613900139000"))
    assert li.name == "李娜" and li.registration_channel == Member.Channel.STORE
    assert list(li.tags.values_list("name", flat=True)) == ["VIP"]
    assert PointsAccount.objects.get(pk=li.pk).available == 20
    assert Member.objects.count() == 2
    assert ledger_mismatches() == []
