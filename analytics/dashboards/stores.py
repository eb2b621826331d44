"""Store comparison: per store in scope, its sales and revenue, refunds, members' share of revenue, average
ticket, the members registered there, stored value topped up and points issued. Four queries: the stores
with their refunds and top-ups as per-store subqueries, and the period's sales, registrations and points
each grouped by store."""

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.base import (
    INT,
    MONEY,
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
    money,
    ratio,
    sale_revenue,
    share,
)
from analytics.dashboards.registry import register
from analytics.dashboards.subqueries import per_row
from loyalty.models import PointsEntry, Refund, Sale, TopUp
from loyalty.selectors import POINTS_NOT_ISSUED
from members.models import Member
from stores.models import Store

MEMBER = Q(member__isnull=False)
# The chart draws the stores with the most revenue; the table has them all.
CHART_STORES = 25


@register
class StoresDashboard(Dashboard):
    slug = "stores"
    order = 70
    title = gettext_lazy("Store comparison")
    description = gettext_lazy(
        "Each store side by side: sales and revenue, refunds, members' share of revenue, average ticket, new "
        "members registered there, stored value topped up and points issued."
    )

    def build(self, scope: Scope) -> Board:
        # Refunds and top-ups are few: a subquery per store, by their store index. New members and
        # points are many, and have no index by store and time: one pass over the period's rows each
        # (by member_registered_idx and the ledger's time index), grouped by store.
        stores = (
            Store.objects.filter(scope.stores("pk"))
            .select_related("region")
            .annotate(
                refunds=per_row(Refund.objects.filter(scope.period()), "store_id", Sum("amount"), money=True),
                refund_count=per_row(Refund.objects.filter(scope.period()), "store_id", Count("pk")),
                topups=per_row(TopUp.objects.filter(scope.period()), "store_id", Sum("amount"), money=True),
            )
            .order_by("code")
        )
        revenue = sale_revenue()
        sales = {
            row["store_id"]: row
            for row in Sale.objects.filter(scope.period(), scope.stores())
            .values("store_id")
            .annotate(
                sales=Count("pk"),
                revenue=Sum(revenue),
                member_revenue=Sum(revenue, filter=MEMBER),
            )
            .order_by()
        }
        new_members = dict(
            Member.objects.filter(
                scope.period("registered_at"), scope.stores("registration_store_id"), registration_store__isnull=False
            )
            .values("registration_store_id")
            .annotate(n=Count("pk"))
            .values_list("registration_store_id", "n")
            .order_by()
        )
        points = dict(
            PointsEntry.objects.filter(scope.period(), scope.stores(), points__gt=0, store__isnull=False)
            .exclude(kind__in=POINTS_NOT_ISSUED)
            .values("store_id")
            .annotate(n=Sum("points"))
            .values_list("store_id", "n")
            .order_by()
        )

        rows, sums = (
            [],
            dict.fromkeys(
                ("sales", "revenue", "member_revenue", "refunds", "refund_count", "new_members", "topups", "points"), 0
            ),
        )
        for store in stores:
            figures = sales.get(store.pk, {})
            values = {
                "sales": figures.get("sales", 0),
                "revenue": money(figures.get("revenue")),
                "member_revenue": money(figures.get("member_revenue")),
                "refunds": money(store.refunds),
                "refund_count": store.refund_count,
                "new_members": new_members.get(store.pk, 0),
                "topups": money(store.topups),
                "points": points.get(store.pk) or 0,
            }
            if not store.is_active and not any(values.values()):
                continue  # a closed store with nothing in the period
            for key, value in values.items():
                sums[key] += value
            rows.append(_row(str(store), store.region.name if store.region_id else "", values))
        total = _row(_("Total"), "", sums) if rows else None
        table = Table(
            key="stores",
            title=_("By store"),
            columns=[
                Column("store", _("Store"), TEXT),
                Column("region", _("Region"), TEXT),
                Column("sales", _("Sales"), INT),
                Column("revenue", _("Revenue"), MONEY),
                Column("refund_count", _("Refunds"), INT),
                Column("refunds", _("Refunded"), MONEY),
                Column("member_share", _("Members' share"), PERCENT),
                Column("ticket", _("Average ticket"), MONEY),
                Column("new_members", _("New members"), INT),
                Column("topups", _("Topped up"), MONEY),
                Column("points", _("Points issued"), INT),
            ],
            rows=rows,
            total=total,
            note=_(
                "Revenue is what customers paid for the period's sales (money, stored value and points at their "
                "value) less what was refunded of them; refunds are those made in the period, of any sale. New "
                "members are counted at the store that registered them."
            ),
        )
        ranked = sorted(rows, key=lambda r: (-r[3], r[0]))[:CHART_STORES]
        charts = []
        if any(r[3] for r in ranked):
            title = _("Revenue by store (¥)")
            if len(rows) > CHART_STORES:
                title = _("Revenue by store (¥), the %(count)d highest") % {"count": CHART_STORES}
            charts.append(
                Chart(title, [r[0] for r in ranked], [Series(_("Revenue"), [r[3] for r in ranked])], kind="bar")
            )
        notes = [] if sums["sales"] or sums["refunds"] or sums["new_members"] else [_("No sales in this period.")]
        return Board(
            figures=[
                Figure(_("Stores"), len(rows)),
                Figure(_("Revenue"), sums["revenue"], MONEY),
                Figure(_("Refunded"), sums["refunds"], MONEY),
                Figure(_("Members' share of revenue"), share(sums["member_revenue"], sums["revenue"]), PERCENT),
                Figure(_("Average ticket"), ratio(sums["revenue"], sums["sales"]), MONEY),
                Figure(_("New members"), sums["new_members"]),
                Figure(_("Stored value topped up"), sums["topups"], MONEY),
                Figure(_("Points issued"), sums["points"]),
            ],
            charts=charts,
            tables=[table],
            notes=notes,
        )


def _row(label: str, region: str, v: dict) -> list:
    return [
        label,
        region,
        v["sales"],
        v["revenue"],
        v["refund_count"],
        v["refunds"],
        share(v["member_revenue"], v["revenue"]),
        ratio(v["revenue"], v["sales"]),
        v["new_members"],
        v["topups"],
        v["points"],
    ]
