import io

import pytest
from django.urls import reverse
from django.utils import timezone

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
