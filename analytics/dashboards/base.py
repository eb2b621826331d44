"""What a dashboard is made of, and the scope it is read in.

A dashboard reads a `Scope` (a period of local business days, and the stores it may see) and returns a
`Board`: headline figures, charts and tables. Tables are what can be exported; charts draw a table's
columns or their own series. Every dashboard runs a fixed number of grouped queries, whatever the
size of the chain: no query per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils import timezone

from config import tabular
from loyalty.selectors import sale_revenue  # noqa: F401  (the dashboards' revenue, re-exported)

CENT = Decimal("0.01")

# Column kinds: the tabular export's kinds plus PERCENT (a Decimal with two places, shown with "%",
# exported as a number with "(%)" in its header) and RATIO (four places, exported as is).
TEXT, INT, MONEY, DATE, PERCENT, DECIMAL = tabular.TEXT, tabular.INT, tabular.MONEY, tabular.DATE, "percent", "decimal"
EXPORT_KIND = {PERCENT: tabular.MONEY, DECIMAL: tabular.MONEY}


def money(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)


def share(part, whole) -> Decimal | None:
    """part / whole in percent with two places; None (shown as —) when there is no whole."""
    if not whole:
        return None
    return (Decimal(part or 0) * 100 / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(part, whole, places: str = "0.01") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part or 0) / Decimal(whole)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Scope:
    """A period (both ends included, local days) and the stores a reader asked for or may see.

    `store_ids` None is the whole chain. A store manager's scope is never None: it is the stores
    they serve, or fewer.
    """

    start: dt.date
    end: dt.date
    store_ids: frozenset[int] | None = None

    @property
    def start_at(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time()))

    @property
    def end_at(self) -> dt.datetime:
        """The first moment after the period (midnight after its last day)."""
        return timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time()))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def bucket(self) -> str:
        """How a time series is grouped: by day up to two months, by week up to a year, then by month."""
        if self.days <= 62:
            return "day"
        if self.days <= 366:
            return "week"
        return "month"

    def period(self, field_name: str = "created_at") -> Q:
        return Q(**{f"{field_name}__gte": self.start_at, f"{field_name}__lt": self.end_at})

    def days_q(self, field_name: str = "day") -> Q:
        return Q(**{f"{field_name}__gte": self.start, f"{field_name}__lte": self.end})

    def stores(self, field_name: str = "store_id") -> Q:
        if self.store_ids is None:
            return Q()
        return Q(**{f"{field_name}__in": sorted(self.store_ids)})

    def buckets(self) -> list[dt.date]:
        """The first day of every bucket of the period, in order (weeks start on Monday)."""
        if self.bucket == "day":
            return [self.start + dt.timedelta(days=i) for i in range(self.days)]
        if self.bucket == "week":
            first = self.start - dt.timedelta(days=self.start.weekday())
            return [first + dt.timedelta(weeks=i) for i in range((self.end - first).days // 7 + 1)]
        months, day = [], self.start.replace(day=1)
        while day <= self.end:
            months.append(day)
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return months

    def bucket_label(self, day: dt.date) -> str:
        if self.bucket == "month":
            return f"{day:%Y-%m}"
        return day.isoformat()


@dataclass
class Column:
    key: str
    label: str
    kind: str = INT

    @property
    def export_kind(self) -> str:
        return EXPORT_KIND.get(self.kind, self.kind)

    @property
    def export_label(self) -> str:
        return f"{self.label} (%)" if self.kind == PERCENT else str(self.label)

    @property
    def numeric(self) -> bool:
        return self.kind not in (TEXT, DATE)


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[list]
    total: list | None = None
    note: str = ""

    def column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)

    def values(self, key: str) -> list:
        i = self.column(key)
        return [row[i] for row in self.rows]

    def export_rows(self) -> list[list]:
        """Rows as the tabular writer wants them: text cells as str, dates as dates, numbers as numbers."""
        kinds = [c.export_kind for c in self.columns]
        rows = []
        for row in [*self.rows, *([self.total] if self.total else [])]:
            rows.append([_export_cell(value, kind) for value, kind in zip(row, kinds, strict=True)])
        return rows


def _export_cell(value, kind):
    if value is None:
        return None
    if kind == tabular.TEXT:
        return str(value)
    if kind == tabular.MONEY:
        return Decimal(value).quantize(CENT) if not isinstance(value, Decimal) else value
    return value


@dataclass
class Series:
    name: str
    values: list


@dataclass
class Chart:
    """A line chart over time (labels are the buckets) or horizontal bars (labels are the categories)."""

    title: str
    labels: list[str]
    series: list[Series]
    kind: str = "line"  # "line" or "bar"
    unit: str = ""


@dataclass
class Figure:
    label: str
    value: object
    kind: str = INT
    note: str = ""


@dataclass
class Board:
    figures: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


class Dashboard:
    """Subclass, set `slug`, `title`, `description` (lazy translations) and `order`, implement `build`.

    `uses_period` False: the dashboard shows a state (tier distribution today) and ignores the dates;
    `uses_stores` False: it is chain-wide by nature and the store filter is hidden (HQ only).
    """

    slug: str = ""
    title = ""
    description = ""
    order: int = 100
    uses_period: bool = True
    uses_stores: bool = True

    def build(self, scope: Scope) -> Board:
        raise NotImplementedError


def trunc(scope: Scope, field_name: str):
    """The scope's bucket of a datetime column, as a local date (the first day of its week or month)."""
    from django.db.models import DateField
    from django.db.models.functions import TruncDate, TruncMonth, TruncWeek

    tz = timezone.get_current_timezone()
    if scope.bucket == "day":
        return TruncDate(field_name, tzinfo=tz)
    function = TruncWeek if scope.bucket == "week" else TruncMonth
    return function(field_name, output_field=DateField(), tzinfo=tz)


def trunc_day(scope: Scope, field_name: str = "day"):
    """The same bucket of a date column."""
    from django.db.models import DateField
    from django.db.models.functions import TruncMonth, TruncWeek

    if scope.bucket == "day":
        from django.db.models import F

        return F(field_name)
    function = TruncWeek if scope.bucket == "week" else TruncMonth
    return function(field_name, output_field=DateField())
