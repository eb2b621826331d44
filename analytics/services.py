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


def _score(*, as_of: dt.date, progress) -> ScoringResult:
    settings = ScoreSettings.load()
    window_start = as_of - dt.timedelta(days=settings.spend_window_days)
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
    progress(_("read purchase statistics"))
    result = ScoringResult(as_of=as_of)
    if not rows:
        result.note = _("No purchases on or before %(date)s: nothing to score; the current scores are kept.") % {
            "date": as_of
        }
        return result
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    first = np.array([(as_of - r[1]).days for r in rows], dtype=float)  # T in days
    recency = np.array([(as_of - r[2]).days for r in rows], dtype=np.int64)
    t_x = first - recency
    days = np.array([r[3] for r in rows], dtype=float)
    visits = np.array([r[4] for r in rows], dtype=np.int64)
    spend = np.array([max(Decimal(r[5] or 0), Decimal(0)) for r in rows], dtype=object)
    spend_f = np.array([float(v) for v in spend])
    recent = np.array([float(r[6] or 0) for r in rows])
    x = days - 1

    r_score = quintiles(-recency.astype(float))
    f_score = quintiles(visits.astype(float))
    m_score = quintiles(spend_f)
    segments = [segment_for(int(r), int(f)) for r, f in zip(r_score, f_score, strict=True)]

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
    level = np.where(high, "high", np.where(medium, "medium", "low"))
    at_risk_ids = set(ids[level != "low"].tolist())
    reasons = _reasons(at_risk_ids, as_of=as_of, window_start=window_start, settings=settings)
    progress(_("found churn reasons"))

    month = as_of.replace(day=1)
    previous = dict(
        MemberSegmentMonth.objects.filter(month__lt=month)
        .filter(month=MemberSegmentMonth.objects.filter(month__lt=month).aggregate(m=Max("month"))["m"])
        .values_list("member_id", "segment")
    )
    MemberScore.objects.all().delete()
    MemberSegmentMonth.objects.filter(month=month).delete()
    scores, months = [], []
    for i, member_id in enumerate(ids.tolist()):
        lvl = str(level[i])
        scores.append(
            MemberScore(
                member_id=member_id,
                as_of=as_of,
                recency_days=int(recency[i]),
                frequency=int(visits[i]),
                monetary=spend[i],
                r_score=int(r_score[i]),
                f_score=int(f_score[i]),
                m_score=int(m_score[i]),
                segment=segments[i],
                p_alive=None if alive is None else float(alive[i]),
                expected_purchases_90d=None if expected is None or np.isnan(expected[i]) else float(expected[i]),
                churn_level=lvl,
                churn_reason="" if lvl == "low" else reasons.get(member_id, "long_inactive"),
            )
        )
        months.append(MemberSegmentMonth(member_id=member_id, month=month, segment=segments[i]))
        if len(scores) >= BATCH:
            MemberScore.objects.bulk_create(scores)
            MemberSegmentMonth.objects.bulk_create(months)
            scores, months = [], []
    MemberScore.objects.bulk_create(scores)
    MemberSegmentMonth.objects.bulk_create(months)
    progress(_("wrote scores"))

    counts = Counter(segments)
    moved = defaultdict(Counter)
    for member_id, segment in zip(ids.tolist(), segments, strict=True):
        moved[segment][previous.get(member_id, "")] += 1
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
        for segment, count in sorted(counts.items())
    )
    result.members = len(ids)
    result.at_risk = len(at_risk_ids)
    result.segments = dict(counts)
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


def _reasons(at_risk: set[int], *, as_of: dt.date, window_start: dt.date, settings: ScoreSettings) -> dict[int, str]:
    if not at_risk:
        return {}
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    start = timezone.make_aware(dt.datetime.combine(window_start + dt.timedelta(days=1), dt.time()))
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
