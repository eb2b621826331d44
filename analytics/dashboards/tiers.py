"""Tiers: how many members hold each tier now, and how members moved between tiers in the period
(from → to, by reason; upgrades and downgrades by bucket). Three queries: the tiers, the members
counted by their current tier (MemberStats.tier; a member without statistics has no tier), and the
period's tier changes grouped by bucket, from, to and reason.

A change is an upgrade when it ends in a higher-ranked tier (or comes from no tier) and a downgrade
otherwise. Both parts follow the member's home store under a store filter: a tier is a member's, not
a store's.
"""

from collections import defaultdict

from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from analytics.dashboards.base import (
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
    trunc,
)
from analytics.dashboards.registry import register
from loyalty.models import Tier, TierChange
from members.models import Member

REASONS = TierChange.Reason
# The reasons' own labels are sentences; the table's columns want a word.
REASON_COLUMNS = {
    REASONS.UPGRADE: gettext_lazy("By a purchase"),
    REASONS.EVALUATION: gettext_lazy("By evaluation"),
    REASONS.REFUND: gettext_lazy("By a refund"),
    REASONS.MANUAL: gettext_lazy("By HQ"),
    REASONS.IMPORT: gettext_lazy("By import"),
}


@register
class TiersDashboard(Dashboard):
    slug = "tiers"
    order = 40
    title = gettext_lazy("Tiers")
    description = gettext_lazy(
        "Members in each tier now, and the upgrades and downgrades of the period: from which tier to which, and why."
    )

    def build(self, scope: Scope) -> Board:
        tiers = {t.pk: t for t in Tier.objects.order_by("rank")}
        counts = dict(
            Member.objects.filter(scope.stores("home_store_id"))
            .order_by()
            .values("stats__tier_id")
            .annotate(n=Count("pk"))
            .values_list("stats__tier_id", "n")
        )
        changes = list(
            TierChange.objects.filter(scope.period(), scope.stores("member__home_store_id"))
            .order_by()
            .annotate(bucket=trunc(scope, "created_at"))
            .values("bucket", "from_tier_id", "to_tier_id", "reason")
            .annotate(n=Count("pk"))
        )

        def name(tier_id) -> str:
            return tiers[tier_id].name if tier_id in tiers else _("(no tier)")

        def rank(tier_id) -> int:
            return tiers[tier_id].rank if tier_id in tiers else -1

        members = sum(counts.values())
        distribution = Table(
            key="distribution",
            title=_("Members by tier now"),
            columns=[
                Column("tier", _("Tier"), TEXT),
                Column("members", _("Members")),
                Column("share", _("Share"), PERCENT),
            ],
            rows=[
                [name(tier_id), counts.get(tier_id, 0), share(counts.get(tier_id, 0), members)]
                for tier_id in [*tiers, None]
            ],
            total=[_("Total"), members, share(members, members)],
            note=_("Today's tiers, whatever the period."),
        )

        reason_codes = [code for code, _label in REASONS.choices]
        pairs: dict = defaultdict(lambda: dict.fromkeys(reason_codes, 0))
        per_bucket: dict = defaultdict(lambda: {"up": 0, "down": 0})
        for row in changes:
            pair = (row["from_tier_id"], row["to_tier_id"])
            pairs[pair][row["reason"]] = pairs[pair].get(row["reason"], 0) + row["n"]
            direction = "up" if rank(pair[1]) > rank(pair[0]) else "down"
            per_bucket[row["bucket"]][direction] += row["n"]
        ordered = sorted(pairs, key=lambda p: (rank(p[1]) <= rank(p[0]), rank(p[0]), rank(p[1])))
        movement_rows = []
        for pair in ordered:
            by_reason = pairs[pair]
            up = rank(pair[1]) > rank(pair[0])
            movement_rows.append(
                [
                    name(pair[0]),
                    name(pair[1]),
                    _("Upgrade") if up else _("Downgrade"),
                    sum(by_reason.values()),
                    *(by_reason[code] for code in reason_codes),
                ]
            )
        movement = Table(
            key="movement",
            title=_("Tier changes in the period"),
            columns=[
                Column("from", pgettext("tier", "From"), TEXT),
                Column("to", pgettext("tier", "To"), TEXT),
                Column("direction", _("Direction"), TEXT),
                Column("changes", _("Changes")),
                *(Column(code, str(REASON_COLUMNS.get(code, label))) for code, label in REASONS.choices),
            ],
            rows=movement_rows,
        )
        if movement_rows:
            movement.total = [
                _("Total"),
                "",
                "",
                *(sum(r[i] for r in movement_rows) for i in range(3, 4 + len(reason_codes))),
            ]

        period_rows = []
        for day in scope.buckets():
            cells = per_bucket.get(day, {"up": 0, "down": 0})
            period_rows.append([scope.bucket_label(day), cells["up"], cells["down"], cells["up"] - cells["down"]])
        ups = sum(r[1] for r in period_rows)
        downs = sum(r[2] for r in period_rows)
        by_period = Table(
            key="by_period",
            title=_("Upgrades and downgrades by period"),
            columns=[
                Column("period", _("Period"), TEXT),
                Column("upgrades", _("Upgrades")),
                Column("downgrades", _("Downgrades")),
                Column("net", _("Net upgrades")),
            ],
            rows=period_rows,
            total=[_("Total"), ups, downs, ups - downs],
        )
        no_tier = counts.get(None, 0)
        notes = []
        if not tiers:
            notes.append(_("No tiers are set up."))
        if not changes:
            notes.append(_("No tier changes in this period."))
        return Board(
            figures=[
                Figure(_("Members"), members),
                Figure(_("Members with a tier"), members - no_tier),
                Figure(_("Members without a tier"), no_tier),
                Figure(_("Upgrades"), ups),
                Figure(_("Downgrades"), downs),
            ],
            charts=[
                Chart(
                    _("Members by tier now"),
                    distribution.values("tier"),
                    [Series(_("Members"), distribution.values("members"))],
                    kind="bar",
                ),
                Chart(
                    _("Upgrades and downgrades"),
                    by_period.values("period"),
                    [
                        Series(_("Upgrades"), by_period.values("upgrades")),
                        Series(_("Downgrades"), by_period.values("downgrades")),
                    ],
                ),
            ],
            tables=[distribution, movement, by_period],
            notes=notes,
        )
