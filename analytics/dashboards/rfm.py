"""RFM and churn risk, from what `score_members` wrote: segment sizes and churn risk at the latest
run (MemberScore), movement between segments in the latest run's month (SegmentSnapshot.moved_from),
and churn risk over time (the ScoringRun history within the period). Four queries: the latest run,
the scores grouped by segment, risk level and reason, the latest month's snapshots, and the period's
runs.

Chain-wide: the snapshots and the run history are stored for the whole chain only, so the store
filter is hidden (HQ reads this dashboard). A reader limited to some stores is shown nothing.
"""

from collections import defaultdict

from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from analytics.dashboards.base import (
    INT,
    PERCENT,
    TEXT,
    Board,
    Chart,
    Column,
    Dashboard,
    Figure,
    Scope,
    Series,
    Table,
    share,
)
from analytics.dashboards.registry import register
from analytics.models import MemberScore, ScoringRun, SegmentSnapshot
from campaigns.churn import ChurnReason
from campaigns.segments import ChurnRisk, RfmSegment

SEGMENTS = dict(RfmSegment.choices)
LEVELS = dict(ChurnRisk.choices)
REASONS = dict(ChurnReason.choices)


def _segment(code: str) -> str:
    return str(SEGMENTS.get(code, code)) if code else _("(not scored the month before)")


@register
class RfmDashboard(Dashboard):
    slug = "rfm"
    order = 50
    title = gettext_lazy("RFM and churn risk")
    description = gettext_lazy(
        "Members per RFM segment at the latest scoring run and how they moved between segments, churn "
        "risk levels and reasons, and the members at risk run after run."
    )
    uses_stores = False

    def build(self, scope: Scope) -> Board:
        if scope.store_ids is not None:
            return Board(notes=[_("The scores are kept for the whole chain: this dashboard is for HQ.")])
        latest = ScoringRun.objects.filter(finished_at__isnull=False).order_by("-started_at", "-id").first()
        if latest is None or not latest.members_scored:
            return Board(
                notes=[
                    _(
                        "Nothing is scored yet: run “manage.py score_members” (nightly in production) to "
                        "compute the RFM segments and churn risk."
                    )
                ]
            )
        grouped = list(
            MemberScore.objects.order_by().values("segment", "churn_level", "churn_reason").annotate(n=Count("pk"))
        )
        snapshots = list(SegmentSnapshot.objects.filter(month=latest.as_of.replace(day=1)).order_by("segment"))
        runs = list(
            ScoringRun.objects.filter(finished_at__isnull=False, as_of__gte=scope.start, as_of__lte=scope.end).order_by(
                "as_of", "started_at", "id"
            )
        )

        scored = sum(row["n"] for row in grouped)
        by_segment: dict = defaultdict(int)
        by_level: dict = defaultdict(int)
        by_risk: dict = defaultdict(int)
        for row in grouped:
            by_segment[row["segment"]] += row["n"]
            by_level[row["churn_level"]] += row["n"]
            by_risk[(row["churn_level"], row["churn_reason"])] += row["n"]
        snapshot = {s.segment: s for s in snapshots}

        segments = Table(
            key="segments",
            title=_("Segments at the latest run"),
            columns=[
                Column("segment", _("Segment"), TEXT),
                Column("members", _("Members")),
                Column("share", _("Share"), PERCENT),
                Column("stayed", _("Stayed")),
                Column("moved_in", _("Came from another segment")),
                Column("new", _("Not scored last month")),
            ],
            rows=[
                [
                    label,
                    by_segment.get(code, 0),
                    share(by_segment.get(code, 0), scored),
                    *(
                        (snapshot[code].stayed, snapshot[code].moved_in, snapshot[code].new)
                        if code in snapshot
                        else (0, 0, 0)
                    ),
                ]
                for code, label in RfmSegment.choices
            ],
            note=_(
                "Stayed, came from another segment and new compare each member's segment at the latest run "
                "with their segment at the last run of the month before."
            ),
        )
        segments.total = [
            _("Total"),
            scored,
            share(scored, scored),
            *(sum(r[i] for r in segments.rows) for i in (3, 4, 5)),
        ]

        moves = []
        for s in snapshots:
            for source, n in sorted(s.moved_from.items(), key=lambda item: -item[1]):
                if source != s.segment and n:
                    moves.append([_segment(source), _segment(s.segment), n])
        moves.sort(key=lambda r: -r[2])
        movement = Table(
            key="movement",
            title=_("Movement between segments in %(month)s") % {"month": f"{latest.as_of:%Y-%m}"},
            columns=[
                Column("from", pgettext("RFM segment", "From"), TEXT),
                Column("to", pgettext("RFM segment", "To"), TEXT),
                Column("members", _("Members")),
            ],
            rows=moves,
            total=[_("Total"), "", sum(r[2] for r in moves)] if moves else None,
            note=_("Members who stayed in their segment are left out."),
        )

        risk_rows = []
        for level, level_label in ChurnRisk.choices:
            for (lvl, reason), n in sorted(by_risk.items(), key=lambda item: -item[1]):
                if lvl == level:
                    risk_rows.append(
                        [level_label, str(REASONS.get(reason, reason)) if reason else "—", n, share(n, scored)]
                    )
        risk = Table(
            key="churn",
            title=_("Churn risk at the latest run"),
            columns=[
                Column("level", _("Risk"), TEXT),
                Column("reason", _("Reason"), TEXT),
                Column("members", _("Members")),
                Column("share", _("Share"), PERCENT),
            ],
            rows=risk_rows,
            total=[_("Total"), "", scored, share(scored, scored)],
        )

        last_of_day = {}
        for run in runs:
            last_of_day[run.as_of] = run
        history_rows = [
            [day.isoformat(), run.members_scored, run.at_risk, share(run.at_risk, run.members_scored)]
            for day, run in sorted(last_of_day.items())
        ]
        history = Table(
            key="runs",
            title=_("Churn risk run after run"),
            columns=[
                Column("as_of", _("As of"), TEXT),
                Column("members_scored", _("Members scored")),
                Column("at_risk", _("At risk")),
                Column("at_risk_share", _("Share at risk"), PERCENT),
            ],
            rows=history_rows,
            note=_("The last run of each day within the period; at risk: medium or high."),
        )
        at_risk = by_level.get(ChurnRisk.MEDIUM, 0) + by_level.get(ChurnRisk.HIGH, 0)
        charts = [
            Chart(
                _("Members per segment"),
                segments.values("segment"),
                [Series(_("Members"), segments.values("members"))],
                kind="bar",
            )
        ]
        if history_rows:
            charts.append(
                Chart(
                    _("Members at risk"),
                    history.values("as_of"),
                    [
                        Series(_("At risk"), history.values("at_risk")),
                        Series(_("Members scored"), history.values("members_scored")),
                    ],
                )
            )
        return Board(
            figures=[
                Figure(_("Latest run"), latest.as_of.isoformat(), TEXT),
                Figure(_("Members scored"), scored),
                Figure(_("At risk"), at_risk, INT, _("medium or high")),
                Figure(_("High risk"), by_level.get(ChurnRisk.HIGH, 0)),
                Figure(_("Share at risk"), share(at_risk, scored), PERCENT),
            ],
            charts=charts,
            tables=[segments, movement, risk, history],
            notes=[] if history_rows else [_("No scoring run within this period; the latest is shown above.")],
        )
