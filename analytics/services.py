"""score_members: RFM, churn rules, BG/NBD and churn reasons for every member with a purchase, as of a date.

Inputs are the statistics loyalty keeps per member and day (MemberDailySpend: visits and net spend),
never a rescan of sales, except the churn reasons, which read the at-risk members' sale discounts and
line categories in two grouped queries. Frequency is purchases (visits); for BG/NBD the repeat count x is
purchase days minus one, t_x and T are in weeks from the first purchase day, as in the paper.

Quintiles: score = 1 + floor(5 × (rank − 1) / n), where rank is the SQL RANK (equal values share the
lowest rank) in the order worse → better, so ties always get the same score.

Segments from (R, F) — the common RFM map, with R1F1 split off as Lost:
    R1: F1 lost, F2 hibernating, F3–4 at risk, F5 can't lose
    R2: F1–2 hibernating, F3–4 at risk, F5 can't lose
    R3: F1–2 about to sleep, F3 need attention, F4–5 loyal
    R4: F1 promising, F2–3 potential loyalist, F4–5 loyal
    R5: F1 new, F2–3 potential loyalist, F4–5 champions

Churn level: high when there was no purchase for `dormant_days` or P(alive) < `p_alive_high`; medium when
the gap since the last purchase is longer than `gap_multiplier` × the member's usual interval (two repeat
purchase days or more), or their spend in the last `spend_window_days` fell below `spend_drop_share` of
their average for such a window, or P(alive) < `p_alive_medium`; low otherwise. Reason for medium/high:
price sensitive (at least `price_sensitive_share` of their sales had a coupon, points or a tier
discount), else category shift (a category with at least 20 % of their spend before the recent window is
absent from what they bought within it), else long inactive.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import bgnbd
from analytics.models import MemberScore, MemberSegmentMonth, ScoreSettings, ScoringRun, SegmentSnapshot
from loyalty.models import MemberDailySpend, Sale, SaleLine

LOCK_KEY = 7_000_001  # pg advisory lock: one scoring run at a time across all workers
BATCH = 5000
CATEGORY_MIN_SHARE = 0.2

SEGMENT_MAP = {
    1: ["lost", "hibernating", "at_risk", "at_risk", "cant_lose"],
    2: ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"],
    3: ["about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"],
    4: ["promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"],
    5: ["new", "potential_loyalist", "potential_loyalist", "champions", "champions"],
}


class ScoringError(ValueError):
    pass


@dataclass
class ScoringResult:
    as_of: dt.date
    members: int = 0
    at_risk: int = 0
    fitted: bool = False
    fit: bgnbd.Fit | None = None
    note: str = ""
    segments: dict = field(default_factory=dict)
    skipped: bool = False


def segment_for(r: int, f: int) -> str:
    return SEGMENT_MAP[r][f - 1]


def quintiles(values: np.ndarray) -> np.ndarray:
    """1–5 by rank (ascending = better); equal values share the lowest rank, hence the same score."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=int)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    first = np.searchsorted(sorted_values, sorted_values, side="left")  # 0-based RANK − 1
    scores = np.empty(n, dtype=int)
    scores[order] = 1 + (5 * first) // n
    return scores


def _try_lock() -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return bool(cursor.fetchone()[0])


def score_members(*, as_of: dt.date | None = None, progress=None) -> ScoringResult:
    today = timezone.localdate()
    as_of = as_of or today
    if as_of > today:
        raise ScoringError(_("The as-of date %(date)s is in the future.") % {"date": as_of})
    with transaction.atomic():
        if not _try_lock():
            return ScoringResult(as_of=as_of, skipped=True, note=_("Another scoring run is in progress."))
        return _score(as_of=as_of, progress=progress or (lambda step: None))


STAT_COLUMNS = ("member_id", "age_days", "recency", "purchase_days", "visits", "spend_cents", "recent_cents")
_STATS_SQL = """
    SELECT member_id::int8, (%(as_of)s::date - MIN(day))::int8, (%(as_of)s::date - MAX(day))::int8,
           COUNT(*)::int8, SUM(visits)::int8, COALESCE(round(SUM(spend) * 100), 0)::int8,
           COALESCE(round(SUM(spend) FILTER (WHERE day > %(window_start)s) * 100), 0)::int8
    FROM loyalty_memberdailyspend
    WHERE day <= %(as_of)s AND visits > 0
    GROUP BY member_id
    ORDER BY member_id
"""
# Binary COPY of int8 columns only: each row is a field count (int16) and, per field, its length (int32) and
# value (int64), all big-endian, after a 19-byte header and before a 2-byte trailer; NumPy reads it as is.
_STATS_ROW = np.dtype([("n", ">i2")] + [f for name in STAT_COLUMNS for f in ((f"{name}_len", ">i4"), (name, ">i8"))])


def _statistics(*, as_of: dt.date, window_start: dt.date) -> dict[str, np.ndarray]:
    """Per member with a purchase on or before as_of: one grouped query over the daily statistics.

    On PostgreSQL the result comes back by binary COPY straight into NumPy arrays (no Python object per
    row or value: a million members are a few dozen MB); elsewhere through the ORM."""
    if connection.vendor == "postgresql":
        buffer = bytearray()
        with connection.cursor() as cursor:
            raw = cursor.cursor
            query = raw.mogrify(_STATS_SQL, {"as_of": as_of, "window_start": window_start})
            with raw.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    buffer += chunk
        rows = np.frombuffer(memoryview(buffer)[19 : len(buffer) - 2], dtype=_STATS_ROW)
        return {name: rows[name].astype(np.int64) for name in STAT_COLUMNS}
    rows = list(
        MemberDailySpend.objects.filter(day__lte=as_of, visits__gt=0)
        .values("member_id")
        .annotate(
            first_day=Min("day"),
            last_day=Max("day"),
            purchase_days=Count("pk"),
            purchases=Sum("visits"),
            net_spend=Sum("spend"),
            recent_spend=Sum("spend", filter=Q(day__gt=window_start)),
        )
        .order_by("member_id")
        .values_list("member_id", "first_day", "last_day", "purchase_days", "purchases", "net_spend", "recent_spend")
    )

    def cents(value) -> int:
        return int((Decimal(value or 0) * 100).to_integral_value())

    columns = [
        [r[0] for r in rows],
        [(as_of - r[1]).days for r in rows],
        [(as_of - r[2]).days for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
        [cents(r[5]) for r in rows],
        [cents(r[6]) for r in rows],
    ]
    return {name: np.array(values, dtype=np.int64) for name, values in zip(STAT_COLUMNS, columns, strict=True)}


_SEGMENTS = np.array([[segment_for(r, f) for f in range(1, 6)] for r in range(1, 6)], dtype=object)


def _score(*, as_of: dt.date, progress) -> ScoringResult:
    settings = ScoreSettings.load()
    window_start = as_of - dt.timedelta(days=settings.spend_window_days)
    stats = _statistics(as_of=as_of, window_start=window_start)
    progress(_("read purchase statistics"))
    result = ScoringResult(as_of=as_of)
    ids = stats["member_id"]
    if not len(ids):
        result.note = _("No purchases on or before %(date)s: nothing to score; the current scores are kept.") % {
            "date": as_of
        }
        return result
    first = stats["age_days"].astype(float)  # T in days
    recency = stats["recency"]
    t_x = first - recency
    days = stats["purchase_days"].astype(float)
    visits = stats["visits"]
    spend_cents = np.maximum(stats["spend_cents"], 0)  # refunds larger than purchases never make it negative
    spend_f = spend_cents / 100
    recent = stats["recent_cents"] / 100
    del stats
    x = days - 1

    r_score = quintiles(-recency.astype(float))
    f_score = quintiles(visits.astype(float))
    m_score = quintiles(spend_f)
    segments = _SEGMENTS[r_score - 1, f_score - 1]

    alive = expected = None
    try:
        fit = bgnbd.fit(x, t_x / 7, first / 7)
        alive = bgnbd.p_alive(fit, x, t_x / 7, first / 7)
        expected = bgnbd.expected_purchases(fit, 90 / 7, x, t_x / 7, first / 7)
        result.fitted, result.fit = True, fit
    except bgnbd.FitError as error:
        result.note = _("BG/NBD not fitted (%(why)s): churn levels come from the dormant rules only.") % {"why": error}
    progress(_("fitted BG/NBD"))

    high = recency >= settings.dormant_days
    usual = np.where(x >= 2, t_x / np.maximum(x, 1), np.inf)
    medium = recency > float(settings.gap_multiplier) * usual
    history_before = np.maximum((window_start - as_of).days + first, 0)  # days of history before the window
    with np.errstate(divide="ignore", invalid="ignore"):
        average = np.where(
            history_before >= settings.spend_window_days,
            (spend_f - recent) * settings.spend_window_days / np.maximum(history_before, 1),
            0,
        )
    medium |= (average > 0) & (recent < float(settings.spend_drop_share) * average)
    if alive is not None:
        high |= alive < float(settings.p_alive_high)
        medium |= alive < float(settings.p_alive_medium)
    level = np.where(high, "high", np.where(medium, "medium", "low")).astype(object)
    at_risk_ids = ids[level != "low"]
    reasons = _reasons(at_risk_ids, as_of=as_of, window_start=window_start, settings=settings)
    reason = np.full(len(ids), "", dtype=object)
    reason[level != "low"] = "long_inactive"
    for name, members in reasons.items():
        reason[np.isin(ids, members, assume_unique=True)] = name
    progress(_("found churn reasons"))

    month = as_of.replace(day=1)
    MemberScore.objects.all().delete()
    MemberSegmentMonth.objects.filter(month=month).delete()
    columns = {
        "recency": recency,
        "visits": visits,
        "spend_cents": spend_cents,
        "r_score": r_score,
        "f_score": f_score,
        "m_score": m_score,
        "segments": segments,
        "alive": alive,
        "expected": expected,
        "level": level,
        "reason": reason,
    }
    if connection.vendor == "postgresql":
        _copy_scores(ids, as_of=as_of, month=month, **columns)
    else:
        _bulk_create_scores(ids, as_of=as_of, month=month, **columns)
    progress(_("wrote scores"))

    names, counts = np.unique(segments.astype(str), return_counts=True)
    moved = _moves(month=month)
    SegmentSnapshot.objects.filter(month=month).delete()
    SegmentSnapshot.objects.bulk_create(
        SegmentSnapshot(
            month=month,
            segment=segment,
            members=count,
            stayed=moved[segment][segment],
            new=moved[segment][""],
            moved_in=count - moved[segment][segment] - moved[segment][""],
            moved_from=dict(moved[segment]),
            as_of=as_of,
        )
        for segment, count in zip(names.tolist(), counts.tolist(), strict=True)
    )
    result.members = len(ids)
    result.at_risk = len(at_risk_ids)
    result.segments = dict(zip(names.tolist(), counts.tolist(), strict=True))
    fit = result.fit
    ScoringRun.objects.create(
        as_of=as_of,
        finished_at=timezone.now(),
        members_scored=result.members,
        at_risk=result.at_risk,
        fitted=result.fitted,
        fit_r=fit and fit.r,
        fit_alpha=fit and fit.alpha,
        fit_a=fit and fit.a,
        fit_b=fit and fit.b,
        note=result.note[:255],
    )
    return result


def _moves(*, month: dt.date) -> dict[str, Counter]:
    """segment → Counter of the segments the same members had at the latest earlier month ("": none):
    one grouped query over this month's rows, just written, and the previous month's."""
    table = MemberSegmentMonth._meta.db_table
    moved: dict[str, Counter] = defaultdict(Counter)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT cur.segment, COALESCE(prev.segment, ''), COUNT(*)
            FROM {table} cur
            LEFT JOIN {table} prev
              ON prev.member_id = cur.member_id AND prev.month = (SELECT MAX(month) FROM {table} WHERE month < %s)
            WHERE cur.month = %s
            GROUP BY cur.segment, COALESCE(prev.segment, '')
            """,
            [month, month],
        )
        for segment, before, n in cursor.fetchall():
            moved[segment][before] = n
    return moved


def _score_rows(
    ids, *, as_of, recency, visits, spend_cents, r_score, f_score, m_score, segments, alive, expected, level, reason
):
    """The MemberScore rows as tuples of Python values, in chunks (memory stays at a chunk's worth)."""
    for start in range(0, len(ids), BATCH):
        end = start + BATCH
        alive_part = [None] * (end - start) if alive is None else alive[start:end].tolist()
        if expected is None:
            expected_part = [None] * (end - start)
        else:
            expected_part = [None if v != v else v for v in expected[start:end].tolist()]  # NaN → NULL
        yield from zip(
            ids[start:end].tolist(),
            recency[start:end].tolist(),
            visits[start:end].tolist(),
            spend_cents[start:end].tolist(),
            r_score[start:end].tolist(),
            f_score[start:end].tolist(),
            m_score[start:end].tolist(),
            segments[start:end].tolist(),
            alive_part,
            expected_part,
            level[start:end].tolist(),
            reason[start:end].tolist(),
            strict=False,
        )


def _copy_scores(ids, *, as_of, month, **columns) -> None:
    """PostgreSQL: MemberScore and MemberSegmentMonth by COPY, in the scoring run's transaction."""
    score_table = MemberScore._meta.db_table
    month_table = MemberSegmentMonth._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            f"COPY {score_table} (member_id, as_of, recency_days, frequency, monetary, r_score, f_score, m_score, "
            "segment, p_alive, expected_purchases_90d, churn_level, churn_reason) FROM STDIN"
        ) as copy:
            for member_id, rec, freq, cents, r, f, m, segment, alive, expected, lvl, why in _score_rows(
                ids, as_of=as_of, **columns
            ):
                copy.write_row(
                    (
                        member_id,
                        as_of,
                        rec,
                        freq,
                        f"{cents // 100}.{cents % 100:02d}",
                        r,
                        f,
                        m,
                        segment,
                        alive,
                        expected,
                        lvl,
                        why,
                    )
                )
        with raw.copy(f"COPY {month_table} (member_id, month, segment) FROM STDIN") as copy:
            segments = columns["segments"]
            for start in range(0, len(ids), BATCH):
                for member_id, segment in zip(
                    ids[start : start + BATCH].tolist(), segments[start : start + BATCH].tolist(), strict=True
                ):
                    copy.write_row((member_id, month, segment))


def _bulk_create_scores(ids, *, as_of, month, **columns) -> None:
    scores, months = [], []
    for member_id, rec, freq, cents, r, f, m, segment, alive, expected, lvl, why in _score_rows(
        ids, as_of=as_of, **columns
    ):
        scores.append(
            MemberScore(
                member_id=member_id,
                as_of=as_of,
                recency_days=rec,
                frequency=freq,
                monetary=Decimal(cents) / 100,
                r_score=r,
                f_score=f,
                m_score=m,
                segment=segment,
                p_alive=alive,
                expected_purchases_90d=expected,
                churn_level=lvl,
                churn_reason=why,
            )
        )
        months.append(MemberSegmentMonth(member_id=member_id, month=month, segment=segment))
        if len(scores) >= BATCH:
            MemberScore.objects.bulk_create(scores)
            MemberSegmentMonth.objects.bulk_create(months)
            scores, months = [], []
    MemberScore.objects.bulk_create(scores)
    MemberSegmentMonth.objects.bulk_create(months)


def _reasons(
    at_risk: np.ndarray, *, as_of: dt.date, window_start: dt.date, settings: ScoreSettings
) -> dict[str, list[int]]:
    """reason → the at-risk members it applies to (those left out are long inactive).

    On PostgreSQL set-based: the at-risk ids go into a temporary table (COPY) and two grouped queries
    join it to their sales (before the end of as_of) and then to the lines of those not price sensitive
    who bought within the recent window; only the members with a reason come back."""
    if not len(at_risk):
        return {}
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    start = timezone.make_aware(dt.datetime.combine(window_start + dt.timedelta(days=1), dt.time()))
    if connection.vendor != "postgresql":
        found = _reasons_orm(set(at_risk.tolist()), start=start, end=end, settings=settings)
        reasons: dict[str, list[int]] = defaultdict(list)
        for member_id, reason in found.items():
            reasons[reason].append(member_id)
        return dict(reasons)
    params = {
        "start": start,
        "end": end,
        "price_share": float(settings.price_sensitive_share),
        "category_share": CATEGORY_MIN_SHARE,
    }
    with connection.cursor() as cursor:
        raw = cursor.cursor
        cursor.execute("DROP TABLE IF EXISTS analytics_at_risk, analytics_at_risk_sales")
        cursor.execute("CREATE TEMP TABLE analytics_at_risk (member_id int8 PRIMARY KEY) ON COMMIT DROP")
        with raw.copy("COPY analytics_at_risk (member_id) FROM STDIN") as copy:
            for i in range(0, len(at_risk), BATCH * 10):
                copy.write("".join(f"{member_id}\n" for member_id in at_risk[i : i + BATCH * 10].tolist()))
        cursor.execute("ANALYZE analytics_at_risk")
        cursor.execute(
            """
            CREATE TEMP TABLE analytics_at_risk_sales ON COMMIT DROP AS
            SELECT s.member_id,
                   COUNT(*) FILTER (WHERE s.coupon_discount > 0 OR s.points_value > 0 OR s.tier_discount > 0)::float8
                       / COUNT(*) >= %(price_share)s AS price_sensitive,
                   bool_or(s.created_at >= %(start)s) AS bought_recently
            FROM loyalty_sale s
            JOIN analytics_at_risk r ON r.member_id = s.member_id
            WHERE s.created_at < %(end)s
            GROUP BY s.member_id
            """,
            params,
        )
        cursor.execute("ANALYZE analytics_at_risk_sales")
        cursor.execute("SELECT member_id FROM analytics_at_risk_sales WHERE price_sensitive ORDER BY member_id")
        price_sensitive = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            """
            WITH lines AS (
                SELECT s.member_id, l.category,
                       SUM(l.net_amount) FILTER (WHERE s.created_at < %(start)s) AS before,
                       COUNT(*) FILTER (WHERE s.created_at >= %(start)s) AS within
                FROM analytics_at_risk_sales c
                JOIN loyalty_sale s ON s.member_id = c.member_id AND s.created_at < %(end)s
                JOIN loyalty_saleline l ON l.sale_id = s.id
                WHERE c.bought_recently AND NOT c.price_sensitive
                GROUP BY s.member_id, l.category
            ), totals AS (
                SELECT member_id, SUM(before) AS total FROM lines GROUP BY member_id HAVING bool_or(within > 0)
            )
            SELECT DISTINCT l.member_id
            FROM lines l JOIN totals t ON t.member_id = l.member_id
            WHERE t.total > 0 AND l.within = 0 AND l.before::float8 / t.total::float8 >= %(category_share)s
            ORDER BY l.member_id
            """,
            params,
        )
        category_shift = [row[0] for row in cursor.fetchall()]
        cursor.execute("DROP TABLE analytics_at_risk, analytics_at_risk_sales")
    return {"price_sensitive": price_sensitive, "category_shift": category_shift}


def _reasons_orm(at_risk: set[int], *, start: dt.datetime, end: dt.datetime, settings: ScoreSettings) -> dict[int, str]:
    """SQLite: the same rules, grouped by the ORM and decided in Python."""
    reasons: dict[int, str] = {}
    promo = Q(coupon_discount__gt=0) | Q(points_value__gt=0) | Q(tier_discount__gt=0)
    for member_id, sales, promoted in (
        Sale.objects.filter(member__isnull=False, created_at__lt=end)
        .values("member_id")
        .annotate(n=Count("pk"), p=Count("pk", filter=promo))
        .values_list("member_id", "n", "p")
    ):
        if member_id in at_risk and sales and promoted / sales >= float(settings.price_sensitive_share):
            reasons[member_id] = "price_sensitive"
    earlier: dict[int, dict[str, float]] = defaultdict(dict)
    recent_buyers: set[int] = set()
    recent_categories: dict[int, set[str]] = defaultdict(set)
    for member_id, category, before, within in (
        SaleLine.objects.filter(sale__member__isnull=False, sale__created_at__lt=end)
        .values("sale__member_id", "category")
        .annotate(
            before=Sum("net_amount", filter=Q(sale__created_at__lt=start)),
            within=Sum("net_amount", filter=Q(sale__created_at__gte=start)),
        )
        .values_list("sale__member_id", "category", "before", "within")
        .order_by()
    ):
        if member_id not in at_risk or member_id in reasons:
            continue
        if before:
            earlier[member_id][category] = float(before)
        if within is not None:
            recent_buyers.add(member_id)
            recent_categories[member_id].add(category)
    for member_id in recent_buyers:
        total = sum(earlier[member_id].values())
        if total > 0 and any(
            amount / total >= CATEGORY_MIN_SHARE and category not in recent_categories[member_id]
            for category, amount in earlier[member_id].items()
        ):
            reasons[member_id] = "category_shift"
    return reasons
