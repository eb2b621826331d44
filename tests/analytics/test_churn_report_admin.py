import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import MemberScore
from analytics.services import score_members
from stores.models import AuditEntry
from tests.factories.analytics import purchase_history
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(chain):
    today = timezone.localdate()
    for days in ([1, 8, 15], [200, 260]):
        purchase_history(MemberFactory(store=chain.store_a), as_of=today, days_ago=days)
    score_members(as_of=today)


def test_the_marketer_reads_the_churn_report_filtered_by_level(client, chain, scored):
    client.force_login(chain.marketer)
    page = client.get(reverse("admin:analytics_memberscore_changelist"), {"churn_level__exact": "high"})
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1


def test_the_churn_report_downloads_as_csv_and_the_export_is_audited(client, chain, scored):
    client.force_login(chain.marketer)
    response = client.get(reverse("admin:analytics_memberscore_csv"), {"churn_level__exact": "high"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode("utf-8").splitlines()
    assert lines[0].startswith("\ufeffPhone,Member code,Days since last purchase")
    assert len(lines) == 2  # the header and the one member at high risk: the list's filter applies
    entry = AuditEntry.objects.get(action="analytics.churn_report_exported")
    assert entry.data["rows"] == 1 and entry.data["format"] == "csv"


def test_the_churn_report_downloads_as_xlsx_too(client, chain, scored):
    from openpyxl import load_workbook

    client.force_login(chain.marketer)
    response = client.get(reverse("admin:analytics_memberscore_csv"), {"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content))).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("Phone", "Member code") and len(rows) == 3


def test_an_unknown_report_format_is_refused_with_a_message(client, chain, scored):
    client.force_login(chain.marketer)
    response = client.get(reverse("admin:analytics_memberscore_csv"), {"format": "pdf"}, follow=True)
    assert "Unknown format" in response.content.decode()
    assert not AuditEntry.objects.filter(action="analytics.churn_report_exported").exists()


def test_nobody_edits_a_score_in_the_admin(client, chain, scored):
    client.force_login(chain.hq_admin)
    assert client.get(reverse("admin:analytics_memberscore_add")).status_code == 403


def test_a_filter_the_list_does_not_know_is_refused_with_a_message(client, chain, scored):
    client.force_login(chain.marketer)
    response = client.get(reverse("admin:analytics_memberscore_csv"), {"no_such_field": "1"}, follow=True)
    assert response.status_code == 200
    assert "filters are not valid" in response.content.decode()


# --- the report reads like the members export (issue 15, item 10) ---------------------------------


@pytest.fixture
def lapsed(chain):
    """One member at high risk (long inactive, P(alive) a tiny float), at +86 139 1234 5678."""
    today = timezone.localdate()
    member = MemberFactory(phone="+8613912345678", store=chain.store_a)
    purchase_history(member, as_of=today, days_ago=[200, 260])
    score_members(as_of=today)
    MemberScore.objects.filter(member=member).update(p_alive=0.00006279864743915022, expected_purchases_90d=1.23456)
    return member


def _download(client, user, fmt: str, language: str) -> list[tuple]:
    client.force_login(user)
    response = client.get(reverse("admin:analytics_memberscore_csv"), {"format": fmt}, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    if fmt == "csv":
        text = content.decode("utf-8").lstrip("\ufeff")
        return [tuple(row) for row in csv.reader(io.StringIO(text))]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(content)).active
    return [tuple("" if v is None else v for v in row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_marketer_downloads_the_churn_report_without_one_full_phone(client, chain, lapsed, fmt):
    rows = _download(client, chain.marketer, fmt, "zh-hans")
    text = repr(rows)
    assert "13912345678" not in text
    assert tuple(r[0] for r in rows[1:] if r[1] == lapsed.code) == ("139****5678",)
    entry = AuditEntry.objects.get(action="analytics.churn_report_exported")
    assert entry.data["phones"] == "masked" and entry.data["headers"] == "zh"


def test_the_hq_admin_reads_11_digit_phones_chinese_labels_and_rounded_figures(client, chain, lapsed):
    rows = _download(client, chain.hq_admin, "csv", "zh-hans")
    header, row = rows[0], next(r for r in rows[1:] if r[1] == lapsed.code)
    assert header[0] == "手机号" and "流失风险" in header and "人群" in header
    shown = dict(zip(header, row, strict=True))
    assert shown["手机号"] == "13912345678"  # no +86, no apostrophe
    assert shown["流失风险"] == "高" and shown["流失原因"] == "长期未到店"
    assert shown["人群"] not in {"at_risk", "cant_lose", "hibernating"}
    assert shown["存活概率"] == "0.0%"
    assert shown["未来 90 天预计消费次数"] == "1.23"
    assert AuditEntry.objects.get(action="analytics.churn_report_exported").data["phones"] == "full"


def test_the_churn_report_speaks_english_in_english(client, chain, lapsed):
    rows = _download(client, chain.hq_admin, "xlsx", "en")
    header, row = rows[0], next(r for r in rows[1:] if r[1] == lapsed.code)
    shown = dict(zip(header, row, strict=True))
    assert shown["Phone"] == "13912345678"
    assert shown["Churn risk"] == "High" and shown["Churn reason"] == "Long inactive"
    assert shown["P(alive)"] == pytest.approx(0.0)  # a number the sheet shows as 0.0%
    assert shown["Expected purchases in 90 days"] == pytest.approx(1.23)


def test_a_foreign_phone_in_the_report_is_e164_and_neutralised_like_the_members_export(client, chain, lapsed):
    from members.models import Member

    Member.objects.filter(pk=lapsed.pk).update(phone="+85291234567")
    rows = _download(client, chain.hq_admin, "csv", "en")
    assert next(r for r in rows[1:] if r[1] == lapsed.code)[0] == "'+85291234567"


def test_the_command_writes_the_report_masked_without_a_login_and_in_full_for_the_hq_admin(chain, lapsed, tmp_path):
    from django.core.management import call_command

    masked, full = tmp_path / "masked.csv", tmp_path / "full.csv"
    call_command("score_members", "--report", str(masked), stdout=io.StringIO(), verbosity=0)
    call_command(
        "score_members", "--report", str(full), "--as", "hq_admin", "--headers", "en", stdout=io.StringIO(), verbosity=0
    )
    assert "13912345678" not in masked.read_text(encoding="utf-8")
    assert masked.read_text(encoding="utf-8").lstrip("\ufeff").startswith("手机号,")
    assert "13912345678," in full.read_text(encoding="utf-8") and "High" in full.read_text(encoding="utf-8")
