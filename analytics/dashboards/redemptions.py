"""What members redeem points for: points paid at checkout (Sale.points_redeemed, worth
Sale.points_value) and points spent in the points mall (MallOrder), by item (gifts, and coupons
exchanged for points: a mall item of the coupon kind is the only way to get a coupon for points).
Four queries: the period's sales with points grouped by bucket, the mall orders grouped by item and
status, the mall orders grouped by bucket, and the loyalty settings (the ¥ value of a mall point).

Gross: what was redeemed when the sale was rung up or the order placed. A later refund gives points
back (the points dashboard shows them as given back); a cancelled mall order is left out and counted
on its own. A mall point is valued at the checkout rate (points per ¥1); the chain's own cost of
each item is shown too. The store filter is the sale's store and the mall order's pick-up store: a
coupon ordered online has no store and shows only in the whole chain.
"""

from decimal import Decimal

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
    share,
    trunc,
)
from analytics.dashboards.registry import register
from campaigns.models import MallItem, MallOrder
from loyalty.models import LoyaltySettings, Sale

CANCELLED = MallOrder.Status.CANCELLED
KINDS = dict(MallItem.Kind.choices)


@register
class RedemptionsDashboard(Dashboard):
    slug = "redemptions"
    order = 60
    title = gettext_lazy("What members redeem points for")
    description = gettext_lazy(
        "Points spent at checkout and in the points mall (gifts and coupons), with their value in ¥."
    )

    def build(self, scope: Scope) -> Board:
        checkout = {
            row["bucket"]: row
            for row in Sale.objects.filter(scope.period(), scope.stores(), points_redeemed__gt=0)
            .order_by()
            .annotate(bucket=trunc(scope, "created_at"))
            .values("bucket")
            .annotate(sales=Count("pk"), points=Sum("points_redeemed"), value=Sum("points_value"))
        }
        orders = MallOrder.objects.filter(scope.period(), scope.stores()).order_by()
        kept = ~Q(status=CANCELLED)
        items = list(
            orders.values("item_id", "item__name", "item__kind", "item__cost")
            .annotate(
                orders=Count("pk", filter=kept),
                points=Sum("points", filter=kept),
                cancelled=Count("pk", filter=Q(status=CANCELLED)),
            )
            .order_by("item__kind", "item__name", "item_id")
        )
        mall_by_bucket = {
            row["bucket"]: row
            for row in orders.filter(kept)
            .annotate(bucket=trunc(scope, "created_at"))
            .values("bucket")
            .annotate(orders=Count("pk"), points=Sum("points"))
        }
        per_yuan = LoyaltySettings.current().redeem_points_per_yuan or 1

        sales = sum(r["sales"] for r in checkout.values())
        checkout_points = sum(r["points"] or 0 for r in checkout.values())
        checkout_value = money(sum((r["value"] or Decimal(0) for r in checkout.values()), Decimal(0)))
        mall_points = sum(r["points"] or 0 for r in items)
        all_points = checkout_points + mall_points

        rows = [[_("At checkout"), _("Paid part of a sale"), sales, checkout_points, checkout_value, None, 0]]
        for item in items:
            if not item["orders"] and not item["cancelled"]:
                continue
            points = item["points"] or 0
            rows.append(
                [
                    item["item__name"],
                    str(KINDS.get(item["item__kind"], item["item__kind"])),
                    item["orders"],
                    points,
                    money(Decimal(points) / per_yuan),
                    money((item["item__cost"] or 0) * item["orders"]),
                    item["cancelled"],
                ]
            )
        for row in rows:
            row.insert(4, share(row[3], all_points))
        table = Table(
            key="by_item",
            title=_("By item"),
            columns=[
                Column("item", _("Redeemed for"), TEXT),
                Column("kind", _("Kind"), TEXT),
                Column("count", _("Sales or orders")),
                Column("points", _("Points")),
                Column("points_share", _("Share of points"), PERCENT),
                Column("value", _("Value (¥)"), MONEY),
                Column("cost", _("Cost to the chain (¥)"), MONEY),
                Column("cancelled", _("Cancelled orders")),
            ],
            rows=rows if all_points or items else [],
            note=_(
                "Value: at checkout, what the points paid; in the mall, the points at %(points)d points per "
                "¥1. Cost to the chain: each item's cost times the orders kept. Cancelled orders returned "
                "their points and are not counted."
            )
            % {"points": per_yuan},
        )
        if table.rows:
            table.total = [
                _("Total"),
                "",
                sum(r[2] for r in rows),
                all_points,
                share(all_points, all_points),
                sum((r[5] for r in rows), Decimal("0.00")),
                sum((r[6] or Decimal(0) for r in rows), Decimal("0.00")),
                sum(r[7] for r in rows),
            ]

        period_rows = []
        for day in scope.buckets():
            c, m = checkout.get(day, {}), mall_by_bucket.get(day, {})
            period_rows.append(
                [
                    scope.bucket_label(day),
                    c.get("points") or 0,
                    m.get("points") or 0,
                    (c.get("points") or 0) + (m.get("points") or 0),
                    c.get("sales", 0),
                    m.get("orders", 0),
                ]
            )
        by_period = Table(
            key="by_period",
            title=_("By period"),
            columns=[
                Column("period", _("Period"), TEXT),
                Column("checkout_points", _("Points at checkout")),
                Column("mall_points", _("Points in the mall")),
                Column("points", _("Points redeemed")),
                Column("sales", _("Sales paid with points")),
                Column("orders", _("Mall orders")),
            ],
            rows=period_rows,
            total=[_("Total"), *(sum(r[i] for r in period_rows) for i in range(1, 6))],
        )
        mall_orders = sum(r["orders"] for r in items)
        bars = sorted(table.rows, key=lambda r: -r[3])
        return Board(
            figures=[
                Figure(_("Points redeemed"), all_points),
                Figure(_("At checkout"), checkout_points, INT, _("%(sales)d sales") % {"sales": sales}),
                Figure(_("Paid with points"), checkout_value, MONEY, _("¥ at checkout")),
                Figure(_("In the points mall"), mall_points, INT, _("%(orders)d orders") % {"orders": mall_orders}),
                Figure(
                    _("Mall points' value"), money(Decimal(mall_points) / per_yuan), MONEY, _("¥ at the checkout rate")
                ),
            ],
            charts=[
                Chart(
                    _("Points by what they were redeemed for"),
                    [r[0] for r in bars],
                    [Series(_("Points"), [r[3] for r in bars])],
                    kind="bar",
                ),
                Chart(
                    _("Points redeemed by period"),
                    by_period.values("period"),
                    [
                        Series(_("Points at checkout"), by_period.values("checkout_points")),
                        Series(_("Points in the mall"), by_period.values("mall_points")),
                    ],
                ),
            ]
            if table.rows
            else [],
            tables=[table, by_period],
            notes=[] if table.rows else [_("No points were redeemed in this period.")],
        )
