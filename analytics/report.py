"""The churn report as rows for the tabular writer: CSV (UTF-8 with BOM for Excel) or XLSX, streamed in
chunks so a million members never sit in memory; text cells neutralised like every export.

It reads like the members export (members.exports): headers and the labels of the segment, the churn
risk and its reason in the language chosen (zh: 手机号, 流失风险 高; en: Phone, Churn risk High), never
the stored codes; a mainland phone as its 11 digits (13800138000, which needs no apostrophe since it
starts with 1), any other in E.164, and masked (138****8000) for a role that may not read full numbers,
through members.phones.shown_phone like every other output; figures rounded: P(alive) as a percentage
with one decimal (12.3%: the scoring's thresholds are tenths, so a finer figure says nothing), expected
purchases with two decimals, money with two.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from analytics.models import MemberScore
from analytics.selectors import churn_report
from config import tabular
from members.phones import shown_phone

CHUNK = 5000
LANGUAGES = {"zh": "zh-hans", "en": "en"}
_TENTH = Decimal("0.1")
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ReportColumn:
    field: str
    header: Callable[[], str]
    kind: str
    cell: Callable[["ReportContext"], Callable[[Any], Any]] | None = None


@dataclass(frozen=True)
class ReportContext:
    full_phones: bool
    language: str  # "zh" or "en"


def _choices(field_name: str):
    def cell(ctx: ReportContext) -> Callable[[str], str]:
        with translation.override(LANGUAGES[ctx.language]):
            labels = {value: str(label) for value, label in MemberScore._meta.get_field(field_name).choices}
        return lambda value: labels.get(value, value) if value else ""

    return cell


def _phone(ctx: ReportContext) -> Callable[[str], str]:
    full = ctx.full_phones
    return lambda phone: shown_phone(phone, full=full)


def as_percent(probability: float | None) -> Decimal | None:
    """0.1234 → 12.3 (percent, one decimal), as the report and the churn list show a probability."""
    if probability is None:
        return None
    return (Decimal(repr(probability)) * 100).quantize(_TENTH, rounding=ROUND_HALF_UP)


def two_places(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


def _percent(ctx: ReportContext) -> Callable[[float | None], Decimal | None]:
    return as_percent


def _two_places(ctx: ReportContext) -> Callable[[float | None], Decimal | None]:
    return two_places


COLUMNS = [
    ReportColumn("member__phone", lambda: _("Phone"), tabular.TEXT, _phone),
    ReportColumn("member__code", lambda: _("Member code"), tabular.TEXT),
    ReportColumn("recency_days", lambda: _("Days since last purchase"), tabular.INT),
    ReportColumn("frequency", lambda: _("Purchases"), tabular.INT),
    ReportColumn("monetary", lambda: _("Net spend"), tabular.MONEY),
    ReportColumn("r_score", lambda: "R", tabular.INT),
    ReportColumn("f_score", lambda: "F", tabular.INT),
    ReportColumn("m_score", lambda: "M", tabular.INT),
    ReportColumn("segment", lambda: _("Segment"), tabular.TEXT, _choices("segment")),
    ReportColumn("p_alive", lambda: _("P(alive)"), tabular.PERCENT, _percent),
    ReportColumn("expected_purchases_90d", lambda: _("Expected purchases in 90 days"), tabular.DECIMAL, _two_places),
    ReportColumn("churn_level", lambda: _("Churn risk"), tabular.TEXT, _choices("churn_level")),
    ReportColumn("churn_reason", lambda: _("Churn reason"), tabular.TEXT, _choices("churn_reason")),
]


def _chunks(queryset, ctx: ReportContext):
    cells = [(i, column.cell(ctx)) for i, column in enumerate(COLUMNS) if column.cell is not None]
    rows = []
    for row in queryset.values_list(*[c.field for c in COLUMNS]).iterator(chunk_size=CHUNK):
        row = list(row)
        for i, cell in cells:
            row[i] = cell(row[i])
        rows.append(row)
        if len(rows) >= CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def churn_report_rows(
    queryset=None, *, full_phones: bool, language: str = "zh", fmt: str = tabular.CSV, filename: str = ""
) -> tabular.TabularExport:
    """The report's rows, ready to write; analytics.exports checks and audits who takes them."""
    queryset = queryset if queryset is not None else churn_report()
    count = queryset.count()
    tabular.check_row_limit(fmt, count)
    ctx = ReportContext(full_phones=full_phones, language=language)
    with translation.override(LANGUAGES[language]):
        headers = [column.header() for column in COLUMNS]
    return tabular.TabularExport(
        headers=headers,
        kinds=[column.kind for column in COLUMNS],
        chunks=lambda: _chunks(queryset, ctx),
        count=count,
        fmt=fmt,
        filename=filename or f"churn-report.{fmt}",
        details={"full_phones": full_phones, "language": language},
    )
