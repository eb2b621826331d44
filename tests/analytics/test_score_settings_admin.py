"""The churn rules' thresholds (issue 16, item 10) decide whom the churn report and win-back campaigns reach:
marketers read them, HQ admins change them, and every change says why, in the audit trail."""

from decimal import Decimal

import pytest

from analytics.models import ScoreSettings
from stores.models import AuditEntry

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/scoresettings/1/change/"


def form(**changes) -> dict:
    data = {
        "dormant_days": "90",
        "gap_multiplier": "3.00",
        "spend_window_days": "90",
        "spend_drop_share": "0.50",
        "p_alive_high": "0.30",
        "p_alive_medium": "0.60",
        "price_sensitive_share": "0.50",
        "change_reason": "",
    }
    return {**data, **changes}


@pytest.fixture
def settings_row(db):
    return ScoreSettings.load()


def test_the_marketer_reads_the_thresholds_but_cannot_change_them(client, chain, settings_row):
    client.force_login(chain.marketer)

    page = client.get(URL)
    response = client.post(URL, form(dormant_days="30", change_reason="想多找些流失会员"))

    assert page.status_code == 200
    assert 'name="dormant_days"' not in page.content.decode()
    assert "90" in page.content.decode()
    assert response.status_code == 403
    assert ScoreSettings.load().dormant_days == 90
    assert not AuditEntry.objects.filter(action="loyalty.rule_changed").exists()


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "Say why the thresholds change"), ("zh-hans", "请说明调整阈值的原因")],
)
def test_a_change_without_a_reason_is_refused_and_changes_nothing(client, chain, settings_row, language, message):
    client.force_login(chain.hq_admin)

    response = client.post(URL, form(dormant_days="60"), HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert ScoreSettings.load().dormant_days == 90
    assert not AuditEntry.objects.filter(action="loyalty.rule_changed").exists()


def test_the_hq_admin_changes_a_threshold_and_the_change_is_audited_with_its_reason(client, chain, settings_row):
    client.force_login(chain.hq_admin)

    response = client.post(URL, form(dormant_days="60", gap_multiplier="2.50", change_reason="春节后提前预警"))

    assert response.status_code == 302
    row = ScoreSettings.load()
    assert (row.dormant_days, row.gap_multiplier) == (60, Decimal("2.50"))
    entry = AuditEntry.objects.get(action="loyalty.rule_changed")
    assert (entry.actor, entry.reason, entry.target_type) == (
        chain.hq_admin,
        "春节后提前预警",
        "analytics.scoresettings",
    )
    assert entry.data["before"] == {"dormant_days": 90, "gap_multiplier": "3.00"}
    assert entry.data["after"] == {"dormant_days": 60, "gap_multiplier": "2.50"}


def test_saving_unchanged_needs_no_reason(client, chain, settings_row):
    client.force_login(chain.hq_admin)

    assert client.post(URL, form()).status_code == 302
