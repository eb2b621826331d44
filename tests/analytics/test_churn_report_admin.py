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
    response = client.get(reverse("admin:analytics_memberscore_csv"))
    assert response.status_code == 200
    assert response.content.decode("utf-8").startswith("\ufeff")
    assert AuditEntry.objects.filter(action="analytics.churn_report_exported").count() == 1


def test_nobody_edits_a_score_in_the_admin(client, chain, scored):
    client.force_login(chain.hq_admin)
    assert client.get(reverse("admin:analytics_memberscore_add")).status_code == 403
