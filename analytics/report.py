"""The churn report as rows for the tabular writer: CSV (UTF-8 with BOM for Excel) or XLSX, streamed in
chunks so a million members never sit in memory; text cells neutralised like every export."""

from django.utils.translation import gettext as _

from analytics.selectors import churn_report
from config import tabular

CHUNK = 5000
HEADERS = [
    ("member__phone", lambda: _("Phone"), tabular.TEXT),
    ("member__code", lambda: _("Member code"), tabular.TEXT),
    ("recency_days", lambda: _("Days since last purchase"), tabular.INT),
    ("frequency", lambda: _("Purchases"), tabular.INT),
    ("monetary", lambda: _("Net spend"), tabular.MONEY),
    ("r_score", lambda: "R", tabular.INT),
    ("f_score", lambda: "F", tabular.INT),
    ("m_score", lambda: "M", tabular.INT),
    ("segment", lambda: _("Segment"), tabular.TEXT),
    ("p_alive", lambda: _("P(alive)"), tabular.TEXT),
    ("expected_purchases_90d", lambda: _("Expected purchases in 90 days"), tabular.TEXT),
    ("churn_level", lambda: _("Churn risk"), tabular.TEXT),
    ("churn_reason", lambda: _("Churn reason"), tabular.TEXT),
]
_FLOATS = {i for i, (name, _label, _kind) in enumerate(HEADERS) if name in ("p_alive", "expected_purchases_90d")}


def _chunks(queryset):
    rows = []
    for row in queryset.values_list(*[f for f, _l, _k in HEADERS]).iterator(chunk_size=CHUNK):
        row = list(row)
        for i in _FLOATS:
            row[i] = "" if row[i] is None else f"{row[i]:.4f}"
        rows.append(row)
        if len(rows) >= CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def churn_report_rows(queryset=None, *, fmt: str = tabular.CSV, filename: str = "") -> tabular.TabularExport:
    """The report's rows, ready to write; analytics.exports audits who takes them."""
    queryset = queryset if queryset is not None else churn_report()
    count = queryset.count()
    tabular.check_row_limit(fmt, count)
    return tabular.TabularExport(
        headers=[label() for _f, label, _k in HEADERS],
        kinds=[kind for _f, _l, kind in HEADERS],
        chunks=lambda: _chunks(queryset),
        count=count,
        fmt=fmt,
        filename=filename or f"churn-report.{fmt}",
    )
