"""Ledger exports for accountants: local-day ranges, store, masking, labels, command, admin page, refusals,
and the large ones written by an export job."""

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import StreamingHttpResponse
from django.urls import reverse

from loyalty.exports import LEDGER_EXPORTED, ledger_export_prepare
from loyalty.models import PointsEntry, WalletEntry
from loyalty.services import points_adjust, wallet_top_up
from members import export_jobs
from members.models import ExportJob
from stores.models import AuditEntry
from tests.export_helpers import csv_dicts, csv_rows, streamed, xlsx_dicts
from tests.factories import MemberFactory
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """These tests read the English messages; the chain's default language is Chinese."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


SHANGHAI = ZoneInfo("Asia/Shanghai")
POINTS_EXPORT = reverse("admin:loyalty_pointsentry_export")
WALLET_EXPORT = reverse("admin:loyalty_walletentry_export")
MARCH = {"start": date(2026, 3, 1), "end": date(2026, 3, 31)}


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def ledger(chain, policy):
    """Adjustments on the edges of March 2026 (China time) and a top-up in it."""
    member = MemberFactory(phone="13800138000", name="王芳")
    hk = MemberFactory(phone="+85291234567", name="Lee")

    def adjust(who, points, at, store=None, reason="补录"):
        entry = points_adjust(
            request_id=rid(), member=who, points=points, reason=reason, actor=chain.hq_admin, store=store
        )
        PointsEntry.objects.filter(pk=entry.pk).update(created_at=at)
        return entry

    entries = {
        "before": adjust(member, 100, local(2026, 2, 28, 23, 59, 59)),
        "first": adjust(member, 50, local(2026, 3, 1, 0, 0, 0), chain.store_a, reason='=HYPERLINK("x")'),
        "middle": adjust(hk, 80, local(2026, 3, 15, 12, 0), chain.store_b),
        "last": adjust(member, -30, local(2026, 3, 31, 23, 59, 59, 999999), chain.store_b),
        "after": adjust(member, 10, local(2026, 4, 1, 0, 0, 0)),
    }
    topup = wallet_top_up(
        request_id=rid(), member=hk, store=chain.store_a, staff=chain.cashier_a, tender="cash", amount=Decimal("500")
    )
    WalletEntry.objects.filter(topup=topup).update(created_at=local(2026, 3, 10, 9, 30))
    return member, hk, entries, topup


def export(actor, *, ledger="points", fmt="csv", **kwargs):
    prepared = ledger_export_prepare(actor=actor, ledger=ledger, fmt=fmt, **{**MARCH, **kwargs})
    if fmt == "csv":
        return b"".join(prepared.csv_chunks())
    out = io.BytesIO()
    prepared.write_xlsx(out)
    return out.getvalue()


def test_both_local_days_are_included_and_nothing_outside(chain, ledger):
    member, hk, _entries, _topup = ledger
    rows = csv_dicts(export(chain.hq_admin))
    assert [(r["时间"], r["积分"]) for r in rows] == [
        ("2026-03-01 00:00:00", "50"),
        ("2026-03-15 12:00:00", "80"),
        ("2026-03-31 23:59:59", "-30"),
    ]
    assert [r["会员编号"] for r in rows] == [member.code, hk.code, member.code]
    one_day = csv_dicts(export(chain.hq_admin, start=date(2026, 3, 31), end=date(2026, 3, 31)))
    assert [r["积分"] for r in one_day] == ["-30"]
    assert csv_dicts(export(chain.hq_admin, start=date(2026, 4, 2), end=date(2026, 4, 30))) == []


def test_points_columns_labels_and_neutralised_reason(chain, ledger):
    member, _hk, _entries, _topup = ledger
    header, first, *_rest = csv_rows(export(chain.hq_admin))
    assert header == [
        "时间",
        "会员编号",
        "姓名",
        "手机号",
        "类型",
        "积分",
        "欠款变动",
        "门店编码",
        "操作员",
        "销售单号",
        "原因",
    ]
    assert first == [
        "2026-03-01 00:00:00",
        member.code,
        "王芳",
        "13800138000",
        "手动调整",
        "50",
        "0",
        "SH001",
        "hq_admin",
        "",
        '\'=HYPERLINK("x")',
    ]
    english = csv_dicts(export(chain.hq_admin, language="en"))
    assert english[0]["kind"] == "Manual adjustment" and english[0]["store_code"] == "SH001"
    # A negative amount is a number, not text to neutralise.
    assert english[2]["points"] == "-30"


def test_store_filter_and_masking_per_role(chain, ledger):
    rows = csv_dicts(export(chain.marketer, store=chain.store_b))
    assert [(r["积分"], r["门店编码"], r["手机号"]) for r in rows] == [
        ("80", "BJ001", "'+85*****4567"),
        ("-30", "BJ001", "138****8000"),
    ]
    assert [r["手机号"] for r in csv_dicts(export(chain.hq_admin, store=chain.store_b))] == [
        "'+85291234567",
        "13800138000",
    ]


def test_stored_value_ledger_as_xlsx(chain, ledger):
    _member, hk, _entries, topup = ledger
    (row,) = xlsx_dicts(export(chain.hq_admin, ledger="wallet", fmt="xlsx", language="en"))
    assert row == {
        "time": datetime(2026, 3, 10, 9, 30),
        "member_code": hk.code,
        "member_name": "Lee",
        "phone": "+85291234567",
        "kind": "Top-up",
        "principal": 500,
        "bonus": 0,
        "store_code": "SH001",
        "staff": "cashier_a",
        "sale_id": None,
        "topup_id": topup.pk,
        "reason": None,
    }


def test_each_export_is_audited_and_refusals_are_not(chain, ledger):
    export(chain.marketer, ledger="wallet", store=chain.store_a)
    (entry,) = AuditEntry.objects.filter(action=LEDGER_EXPORTED)
    assert entry.actor == chain.marketer and entry.store == chain.store_a
    assert entry.data == {
        "source": "admin",
        "ledger": "wallet",
        "from": "2026-03-01",
        "to": "2026-03-31",
        "store": "SH001",
        "rows": 1,
        "format": "csv",
        "headers": "zh",
        "phones": "masked",
    }
    with pytest.raises(ValidationError, match="before the start"):
        export(chain.hq_admin, start=date(2026, 3, 2), end=date(2026, 3, 1))
    with pytest.raises(ValidationError, match="points or wallet"):
        export(chain.hq_admin, ledger="coupons")
    with pytest.raises(ValidationError, match="csv or xlsx"):
        export(chain.hq_admin, fmt="ods")
    for persona in ("cashier_a", "manager_a"):
        with pytest.raises(PermissionDenied):
            export(getattr(chain, persona))
    assert AuditEntry.objects.filter(action=LEDGER_EXPORTED).count() == 1


# --- the command ------------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_ledger", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_writes_the_ledger_with_a_summary(chain, ledger, tmp_path):
    target = tmp_path / "points.csv"
    out, err = run("--ledger", "points", "--from", "2026-03-01", "--to", "2026-03-31", str(target), "--as", "hq_admin")
    assert "Exported 3 points ledger entries from 2026-03-01 to 2026-03-31" in out and "audit entry #" in out
    assert "3/3" in err
    assert [r["积分"] for r in csv_dicts(target.read_bytes())] == ["50", "80", "-30"]
    target = tmp_path / "wallet.xlsx"
    out, _err = run(
        "--ledger",
        "wallet",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--store",
        "SH001",
        str(target),
        "--as",
        "marketer",
    )
    assert "1 wallet ledger entries" in out and "at SH001" in out and "phones masked" in out
    assert xlsx_dicts(target.read_bytes())[0]["手机号"] == "+85*****4567"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-03-31", "--to", "2026-03-01"], "before the start date"),
        (["--from", "2026-02-30", "--to", "2026-03-01"], "is not a date"),
        (["--from", "2026-03-01", "--to", "2026-03-31", "--store", "NOPE"], "Unknown store code “NOPE”"),
        (["--from", "2026-03-01", "--to", "2026-03-31", "--format", "pdf"], "Unknown format “pdf”"),
        (["--from", "2026-03-01", "--to", "2026-03-31", "--as", "cashier_a"], "does not allow exports"),
    ],
)
def test_command_refusals_write_no_file_and_no_audit(chain, ledger, tmp_path, args, message):
    if "--as" not in args:
        args = [*args, "--as", "hq_admin"]
    with pytest.raises(CommandError, match=message):
        run("--ledger", "points", str(tmp_path / "out.csv"), *args)
    assert list(tmp_path.iterdir()) == []
    assert not AuditEntry.objects.filter(action=LEDGER_EXPORTED).exists()


def test_command_refuses_an_unknown_ledger(chain, tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        run(
            "--ledger",
            "coupons",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            str(tmp_path / "x.csv"),
            "--as",
            "hq_admin",
        )


# --- the admin page ---------------------------------------------------------------------------


def test_the_lists_link_to_their_export_page_with_their_filters(client, chain, ledger):
    client.force_login(chain.hq_admin)
    page = client.get(reverse("admin:loyalty_pointsentry_changelist"), {"store__id__exact": chain.store_b.pk})
    assert f'href="{POINTS_EXPORT}?store__id__exact={chain.store_b.pk}"' in page.content.decode()
    assert WALLET_EXPORT in client.get(reverse("admin:loyalty_walletentry_changelist")).content.decode()
    response = client.get(
        POINTS_EXPORT,
        {
            "store__id__exact": chain.store_b.pk,
            "created_at__gte": "2026-03-01 00:00:00+08:00",
            "created_at__lt": "2026-04-01 00:00:00+08:00",
        },
    )
    form = response.context["form"]
    assert form.initial == {"start": date(2026, 3, 1), "end": date(2026, 3, 31), "store": chain.store_b.pk}
    # ISO dates, which is what a browser's date input shows.
    assert 'value="2026-03-01"' in response.content.decode()


def test_a_marketer_finds_the_exports_in_the_tools_box_and_downloads_masked(client, chain, ledger):
    client.force_login(chain.marketer)
    home = client.get(reverse("admin:index")).content.decode()
    assert POINTS_EXPORT in home and WALLET_EXPORT in home
    response = client.post(
        POINTS_EXPORT, {"start": "2026-03-01", "end": "2026-03-31", "store": "", "fmt": "csv", "headers": "zh"}
    )
    assert isinstance(response, StreamingHttpResponse)
    assert 'filename="points-ledger-2026-03-01-2026-03-31.csv"' in response["Content-Disposition"]
    rows = csv_dicts(streamed(response))
    assert [r["手机号"] for r in rows] == ["138****8000", "'+85*****4567", "138****8000"]
    assert AuditEntry.objects.get(action=LEDGER_EXPORTED).actor == chain.marketer


def test_the_admin_page_query_count_is_pinned(client, chain, ledger, django_assert_num_queries):
    client.force_login(chain.hq_admin)
    # session, user, role, the user's and the group's permissions (breadcrumbs), the stores to choose from
    with django_assert_num_queries(6):
        assert client.get(WALLET_EXPORT).status_code == 200


def test_the_admin_page_refuses_bad_input_and_other_roles(client, chain, ledger, monkeypatch):
    client.force_login(chain.hq_admin)
    response = client.post(
        POINTS_EXPORT, {"start": "2026-03-31", "end": "2026-03-01", "store": "", "fmt": "csv", "headers": "zh"}
    )
    assert response.status_code == 200
    assert "is before the first day" in str(response.context["form"].errors["end"])
    response = client.post(POINTS_EXPORT, {"start": "2026-03-01", "end": "2026-03-31", "store": "999", "fmt": "csv"})
    assert "store" in response.context["form"].errors and "headers" in response.context["form"].errors
    monkeypatch.setattr("config.tabular.XLSX_MAX_ROWS", 1)
    response = client.post(
        POINTS_EXPORT, {"start": "2026-03-01", "end": "2026-03-31", "store": "", "fmt": "xlsx", "headers": "zh"}
    )
    assert "CSV" in str(response.context["form"].non_field_errors())
    assert not AuditEntry.objects.filter(action=LEDGER_EXPORTED).exists()
    reader = get_user_model().objects.create_user(username="reader", password="x", is_staff=True)
    client.force_login(reader)
    assert client.get(POINTS_EXPORT).status_code == 403
    assert client.post(POINTS_EXPORT, {"start": "2026-03-01", "end": "2026-03-31", "fmt": "csv"}).status_code == 403
    assert not AuditEntry.objects.filter(action=LEDGER_EXPORTED).exists()


# --- large exports: a job written in the background -------------------------------------------

MARCH_FORM = {"start": "2026-03-01", "end": "2026-03-31"}


@pytest.fixture
def small_limits(monkeypatch, settings, tmp_path):
    """Exports of more than 2 rows (CSV) or any row (XLSX) go to a job, as a large one would."""
    monkeypatch.setattr(export_jobs, "STREAM_MAX_ROWS", {"csv": 2, "xlsx": 0})
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def job_url(job, name="change"):
    return reverse(f"admin:members_exportjob_{name}", args=[job.pk])


def download(client, job) -> bytes:
    response = client.get(job_url(job, "download"))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_a_large_points_ledger_export_goes_to_a_job_and_downloads_masked_for_the_marketer(
    client,
    chain,
    ledger,
    small_limits,
    django_capture_on_commit_callbacks,
    celery_broker,
):
    # Given a marketer asking for March's points ledger, three entries, more than the limit
    client.force_login(chain.marketer)
    # When the form is sent and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(POINTS_EXPORT, {**MARCH_FORM, "store": "", "fmt": "csv", "headers": "zh"})
    # Then the browser goes to the job's page, where the file is ready
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.kind, job.status, job.start, job.end, job.store, job.total_rows, job.rows_written) == (
        "points_ledger",
        "done",
        date(2026, 3, 1),
        date(2026, 3, 31),
        None,
        3,
        3,
    )
    page = client.get(job_url(job)).content.decode()
    assert "2026-03-01 – 2026-03-31" in page and job_url(job, "download") in page
    response = client.get(job_url(job, "download"))
    assert 'filename="points-ledger-2026-03-01-2026-03-31.csv"' in response["Content-Disposition"]
    rows = csv_dicts(b"".join(response.streaming_content))
    assert [(r["积分"], r["手机号"]) for r in rows] == [
        ("50", "138****8000"),
        ("80", "'+85*****4567"),
        ("-30", "138****8000"),
    ]
    # One audit row, the one the export always had
    (entry,) = AuditEntry.objects.filter(action=LEDGER_EXPORTED)
    assert entry.actor == chain.marketer and job.audit_entry == entry
    assert (entry.data["rows"], entry.data["source"], entry.data["phones"]) == (3, "admin", "masked")


def test_a_wallet_ledger_export_of_one_store_as_xlsx_job(
    client,
    chain,
    ledger,
    small_limits,
    django_capture_on_commit_callbacks,
    celery_broker,
):
    _member, hk, _entries, topup = ledger
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(WALLET_EXPORT, {**MARCH_FORM, "store": chain.store_a.pk, "fmt": "xlsx", "headers": "en"})
    job = ExportJob.objects.get()
    assert response["Location"] == job_url(job)
    assert (job.kind, job.store, job.fmt, job.headers) == ("wallet_ledger", chain.store_a, "xlsx", "en")
    assert "SH001" in client.get(job_url(job)).content.decode()
    (row,) = xlsx_dicts(download(client, job))
    assert (row["member_code"], row["phone"], row["principal"], row["topup_id"]) == (
        hk.code,
        "+85291234567",
        500,
        topup.pk,
    )
    assert AuditEntry.objects.get(action=LEDGER_EXPORTED).data["store"] == "SH001"


def test_a_small_ledger_export_still_streams(client, chain, ledger):
    client.force_login(chain.hq_admin)
    response = client.post(POINTS_EXPORT, {**MARCH_FORM, "store": "", "fmt": "csv", "headers": "zh"})
    assert len(csv_dicts(streamed(response))) == 3
    assert not ExportJob.objects.exists()


def test_store_staff_cannot_ask_for_a_ledger_job(client, chain, ledger, small_limits):
    for persona in ("cashier_a", "manager_a"):
        client.force_login(getattr(chain, persona))
        response = client.post(POINTS_EXPORT, {**MARCH_FORM, "store": "", "fmt": "csv", "headers": "zh"})
        assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    assert not ExportJob.objects.exists() and not AuditEntry.objects.filter(action=LEDGER_EXPORTED).exists()


def test_the_ledger_job_page_query_count_is_pinned(
    client,
    chain,
    ledger,
    small_limits,
    django_capture_on_commit_callbacks,
    celery_broker,
    django_assert_num_queries,
):
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(WALLET_EXPORT, {**MARCH_FORM, "store": chain.store_a.pk, "fmt": "xlsx", "headers": "zh"})
    job = ExportJob.objects.get()
    # session, user, role, the job (with who asked and the store), 2 × admin permissions (the app list)
    with django_assert_num_queries(6):
        assert client.get(job_url(job)).status_code == 200
