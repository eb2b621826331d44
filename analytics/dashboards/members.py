"""Members and repurchase: growth, active members, repurchase rate, members' share of sales, and the
member vs non-member average ticket. Four grouped queries."""

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.base import (
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
    trunc,
)
from analytics.dashboards.registry import register
from loyalty.models import Sale
from members.models import Member

MEMBER = Q(member__isnull=False)
GUEST = Q(member__isnull=True)


@register
class MembersDashboard(Dashboard):
    slug = "members"
    order = 10
    title = gettext_lazy("Members and repurchase")
    description = gettext_lazy(
        "Member growth and active members, repurchase rate, members' share of sales, and the average "
        "ticket of members and of other customers."
    )

    def build(self, scope: Scope) -> Board:
        members = Member.objects.filter(scope.stores("registration_store_id"))
        before = members.filter(registered_at__lt=scope.start_at).count()
        new_by_bucket = dict(
            members.filter(scope.period("registered_at"))
            .annotate(bucket=trunc(scope, "registered_at"))
            .values("bucket")
            .annotate(n=Count("pk"))
            .values_list("bucket", "n")
            .order_by()
        )
        sales = Sale.objects.filter(scope.period(), scope.stores())
        revenue = sale_revenue()
        figures = {
            "member_sales": Count("pk", filter=MEMBER),
            "guest_sales": Count("pk", filter=GUEST),
            "member_revenue": Sum(revenue, filter=MEMBER),
            "guest_revenue": Sum(revenue, filter=GUEST),
            "active": Count("member_id", distinct=True),
        }
        by_bucket = {
            row["bucket"]: row
            for row in sales.annotate(bucket=trunc(scope, "created_at")).values("bucket").annotate(**figures).order_by()
        }
        # The period's sums are the buckets' sums; members active in several buckets count once, which
        # the one pass over the period's buyers gives with the repeat buyers (each a full scan at scale).
        totals = {key: sum((row[key] or 0) for row in by_bucket.values()) for key in figures if key != "active"}
        buyers = (
            sales.filter(MEMBER)
            .values("member_id")
            .annotate(n=Count("pk"))
            .order_by()
            .aggregate(active=Count("member_id"), repeat=Count("member_id", filter=Q(n__gte=2)))
        )
        totals["active"], repeat_buyers = buyers["active"], buyers["repeat"]

        rows, running = [], before
        for day in scope.buckets():
            new = new_by_bucket.get(day, 0)
            running += new
            rows.append(_row(scope.bucket_label(day), new, running, by_bucket.get(day, {})))
        new_total = sum(new_by_bucket.values())
        total = _row(_("Total"), new_total, before + new_total, totals)
        table = Table(
            key="by_period",
            title=_("By period"),
            columns=[
                Column("period", _("Period"), TEXT),
                Column("new", _("New members")),
                Column("members", _("Members at the end")),
                Column("active", _("Active members")),
                Column("member_sales", _("Member sales")),
                Column("guest_sales", _("Other sales")),
                Column("member_revenue", _("Member revenue"), MONEY),
                Column("guest_revenue", _("Other revenue"), MONEY),
                Column("member_share", _("Members' share of revenue"), PERCENT),
                Column("member_ticket", _("Member average ticket"), MONEY),
                Column("guest_ticket", _("Other average ticket"), MONEY),
            ],
            rows=rows,
            total=total,
            note=_("Active members bought at least once in the period; a total counts each member once."),
        )
        labels = table.values("period")
        return Board(
            figures=[
                Figure(_("Members at the end"), before + new_total),
                Figure(_("New members"), new_total),
                Figure(_("Active members"), totals["active"]),
                Figure(
                    _("Repurchase rate"),
                    share(repeat_buyers, totals["active"]),
                    PERCENT,
                    _("of active members bought twice or more"),
                ),
                Figure(_("Members' share of revenue"), total[8], PERCENT),
                Figure(_("Member average ticket"), total[9], MONEY),
                Figure(_("Other average ticket"), total[10], MONEY),
            ],
            charts=[
                Chart(
                    _("New and active members"),
                    labels,
                    [
                        Series(_("New members"), table.values("new")),
                        Series(_("Active members"), table.values("active")),
                    ],
                ),
                Chart(
                    _("Average ticket (¥)"),
                    labels,
                    [
                        Series(_("Members"), table.values("member_ticket")),
                        Series(_("Other customers"), table.values("guest_ticket")),
                    ],
                ),
            ],
            tables=[table],
            notes=[] if totals["member_sales"] or totals["guest_sales"] else [_("No sales in this period.")],
        )


def _row(label: str, new: int, members: int, figures: dict) -> list:
    member_revenue = money(figures.get("member_revenue"))
    guest_revenue = money(figures.get("guest_revenue"))
    member_sales, guest_sales = figures.get("member_sales", 0), figures.get("guest_sales", 0)
    return [
        label,
        new,
        members,
        figures.get("active", 0),
        member_sales,
        guest_sales,
        member_revenue,
        guest_revenue,
        share(member_revenue, member_revenue + guest_revenue),
        ratio(member_revenue, member_sales),
        ratio(guest_revenue, guest_sales),
    ]
