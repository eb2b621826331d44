"""The churn report as CSV (UTF-8 with BOM for Excel); text cells neutralised like every export."""

import csv

from django.utils.translation import gettext as _

from analytics.selectors import churn_report
from config.tabular import neutralise

HEADERS = [
    ("member__phone", lambda: _("Phone")),
    ("member__code", lambda: _("Member code")),
    ("recency_days", lambda: _("Days since last purchase")),
    ("frequency", lambda: _("Purchases")),
    ("monetary", lambda: _("Net spend")),
    ("r_score", lambda: "R"),
    ("f_score", lambda: "F"),
    ("m_score", lambda: "M"),
    ("segment", lambda: _("Segment")),
    ("p_alive", lambda: _("P(alive)")),
    ("expected_purchases_90d", lambda: _("Expected purchases in 90 days")),
    ("churn_level", lambda: _("Churn risk")),
    ("churn_reason", lambda: _("Churn reason")),
]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return neutralise(value) if isinstance(value, str) else value


def write_churn_report(handle, queryset=None) -> int:
    """Writes to a text handle opened with newline=""; returns the number of rows."""
    handle.write("\ufeff")
    writer = csv.writer(handle)
    writer.writerow([label() for _field, label in HEADERS])
    rows = 0
    for row in (
        (queryset if queryset is not None else churn_report())
        .values_list(*[f for f, _l in HEADERS])
        .iterator(chunk_size=5000)
    ):
        writer.writerow([_cell(v) for v in row])
        rows += 1
    return rows
