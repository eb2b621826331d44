"""Points and liability: what the points ledger issued, redeemed, expired and clawed back in the
period, by bucket; what members still hold at the end of it and what that is worth in ¥; and the
points debt refunds left behind. At most four queries:

1. the period's ledger entries grouped by bucket and kind (points added, points taken, debt change);
2. the points accounts' balances now (available, pending, debt);
3. only when the period ended before today: the signed sum of the entries after its end, to take the
   balances back to the end of the period (balance then = balance now − what moved since);
4. the loyalty settings (how many points make ¥1).

Flows follow the entry's store (where the movement happened); expiry, sign-ins and online mall
orders carry no store and so appear only in the whole chain. Balances belong to members, not to
stores: with a store filter they are the balances of the members whose home store it is.
"""

from collections import defaultdict

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.base import (
    INT,
    MONEY,
    TEXT,
    Board,
    Chart,
    Column,
    Dashboard,
    Figure,
    Scope,
    Series,
    Table,
    money,
    trunc,
)
from analytics.dashboards.registry import register
from loyalty.models import LoyaltySettings, PointsAccount, PointsEntry

K = PointsEntry.Kind
# Which column of the table each kind's movement goes to. A manual adjustment is "other issued" when
# it adds points and "other deducted" when it takes them; an unlock moves points from pending to
# available (0 points) and shows nowhere.
ISSUED_KINDS = {K.EARN: "earned", K.BEHAVIOUR: "other_issued", K.OPENING: "other_issued"}
TAKEN_KINDS = {
    K.REDEEM: "redeemed",
    K.MALL: "redeemed",
    K.EXPIRE: "expired",
    K.CLAWBACK: "clawed_back",
    K.DEBT_SETTLEMENT: "debt_settled",
}
RETURNED_KINDS = {K.RESTORE: "returned", K.MALL_REFUND: "returned"}
MEASURES = [
    "earned",
    "other_issued",
    "redeemed",
    "returned",
    "expired",
    "clawed_back",
    "other_deducted",
    "debt_settled",
]


def _column(kind: str, sign: int) -> str:
    """The table column of `kind`'s points going in (sign 1) or out (sign -1)."""
    if sign > 0:
        return ISSUED_KINDS.get(kind) or RETURNED_KINDS.get(kind) or "other_issued"
    return TAKEN_KINDS.get(kind) or "other_deducted"


def ends_today(scope: Scope) -> bool:
    return scope.end >= timezone.localdate()


@register
class PointsDashboard(Dashboard):
    slug = "points"
    order = 20
    title = gettext_lazy("Points and liability")
    description = gettext_lazy(
        "Points issued, redeemed, expired and clawed back in the period; the points members hold at its "
        "end and what they are worth in ¥; and the points debt members owe after refunds."
    )

    def build(self, scope: Scope) -> Board:
        entries = PointsEntry.objects.filter(scope.period(), scope.stores()).order_by()
        grouped = (
            entries.annotate(bucket=trunc(scope, "created_at"))
            .values("bucket", "kind")
            .annotate(
                n=Count("pk"),
                plus=Sum("points", filter=Q(points__gt=0)),
                minus=Sum("points", filter=Q(points__lt=0)),
                debt=Sum("debt", filter=Q(debt__gt=0)),
            )
        )
        by_bucket: dict = defaultdict(lambda: dict.fromkeys([*MEASURES, "debt_created"], 0))
        by_kind: dict = defaultdict(lambda: {"n": 0, "plus": 0, "minus": 0, "debt": 0})
        for row in grouped:
            cells = by_bucket[row["bucket"]]
            if row["plus"]:
                cells[_column(row["kind"], 1)] += row["plus"]
            if row["minus"]:
                cells[_column(row["kind"], -1)] += -row["minus"]
            cells["debt_created"] += row["debt"] or 0
            kind = by_kind[row["kind"]]
            kind["n"] += row["n"]
            kind["plus"] += row["plus"] or 0
            kind["minus"] += -(row["minus"] or 0)
            kind["debt"] += row["debt"] or 0

        balance = _balance_at_end(scope)
        per_yuan = LoyaltySettings.current().redeem_points_per_yuan or 1
        outstanding = balance["available"] + balance["pending"]

        rows = [_row(scope.bucket_label(day), by_bucket.get(day, {})) for day in scope.buckets()]
        totals = {key: sum(by_bucket[b][key] for b in by_bucket) for key in [*MEASURES, "debt_created"]}
        total = _row(_("Total"), totals)
        table = Table(
            key="by_period",
            title=_("By period"),
            columns=[
                Column("period", _("Period"), TEXT),
                Column("earned", _("Earned")),
                Column("other_issued", _("Other issued")),
                Column("redeemed", _("Redeemed")),
                Column("returned", _("Given back")),
                Column("expired", _("Expired")),
                Column("clawed_back", _("Clawed back")),
                Column("other_deducted", _("Other deducted")),
                Column("debt_settled", _("Debt settled")),
                Column("net", _("Net change")),
                Column("debt_created", _("Debt created")),
            ],
            rows=rows,
            total=total,
            note=_(
                "Earned: points earned by purchases. Other issued: behaviour rewards, opening balances and "
                "manual additions. Redeemed: at checkout and in the points mall. Given back: redeemed points "
                "returned by a refund or a cancelled mall order. Clawed back: points a refund took back from "
                "the balance; what the member had already spent became debt (Debt created), settled later "
                "out of new points (Debt settled). Net change is the change of the points members hold."
            ),
        )
        kinds = Table(
            key="by_kind",
            title=_("By kind of movement"),
            columns=[
                Column("kind", _("Kind"), TEXT),
                Column("entries", _("Entries")),
                Column("added", _("Points added")),
                Column("taken", _("Points taken")),
                Column("debt", _("Debt created")),
            ],
            rows=[
                [label, by_kind[code]["n"], by_kind[code]["plus"], by_kind[code]["minus"], by_kind[code]["debt"]]
                for code, label in K.choices
                if code in by_kind
            ],
        )
        if kinds.rows:
            kinds.total = [_("Total"), *(sum(row[i] for row in kinds.rows) for i in range(1, 5))]

        at_end = _("now") if ends_today(scope) else _("at the end of the period")
        where = _("members whose home store is selected") if scope.store_ids is not None else ""
        figures = [
            Figure(_("Points issued"), totals["earned"] + totals["other_issued"], INT, _("earned and other")),
            Figure(_("Points redeemed"), totals["redeemed"] - totals["returned"], INT, _("less what was given back")),
            Figure(_("Points expired"), totals["expired"]),
            Figure(_("Points clawed back"), totals["clawed_back"] + totals["debt_created"], INT, _("including debt")),
            Figure(_("Outstanding points"), outstanding, INT, " · ".join(str(s) for s in (at_end, where) if s)),
            Figure(
                _("Outstanding liability"),
                money(outstanding / per_yuan),
                MONEY,
                _("¥, at %(points)d points per ¥1") % {"points": per_yuan},
            ),
            Figure(_("Points debt owed by members"), balance["debt"], INT, at_end),
        ]
        if ends_today(scope):
            figures.insert(5, Figure(_("Of which pending"), balance["pending"], INT, _("not yet spendable")))
        labels = table.values("period")
        return Board(
            figures=figures,
            charts=[
                Chart(
                    _("Points issued and used"),
                    labels,
                    [
                        Series(_("Issued"), [r[1] + r[2] for r in rows]),
                        Series(_("Redeemed"), table.values("redeemed")),
                        Series(_("Expired"), table.values("expired")),
                        Series(_("Clawed back"), [r[6] + r[10] for r in rows]),
                    ],
                )
            ],
            tables=[table, kinds],
            notes=[] if by_kind else [_("No points movements in this period.")],
        )


def _row(label: str, cells: dict) -> list:
    values = [cells.get(key, 0) for key in MEASURES]
    earned, other, redeemed, returned, expired, clawed, deducted, settled = values
    net = earned + other - redeemed + returned - expired - clawed - deducted - settled
    return [label, *values, net, cells.get("debt_created", 0)]


def _balance_at_end(scope: Scope) -> dict:
    """Available, pending and debt at the end of the period: the accounts now, less what the ledger
    moved after the period (entries' points change available + pending, their debt the debt)."""
    members = scope.stores("member__home_store_id")
    now = PointsAccount.objects.filter(members).aggregate(
        available=Sum("available", default=0), pending=Sum("pending", default=0), debt=Sum("debt", default=0)
    )
    if ends_today(scope):
        return now
    since = PointsEntry.objects.filter(members, created_at__gte=scope.end_at).aggregate(
        points=Sum("points", default=0), debt=Sum("debt", default=0)
    )
    # Which of the points were pending then is not recorded in the ledger: report them as available.
    return {
        "available": now["available"] + now["pending"] - since["points"],
        "pending": 0,
        "debt": now["debt"] - since["debt"],
    }
