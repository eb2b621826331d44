"""Staff performance: per staff member and store, what they did in the period: sales rung up as the
cashier and their revenue, sales with a coupon, members registered, top-ups and refunds. Four grouped
queries (sales, registrations, top-ups, refunds), each with the staff member's name and the store
joined in; store managers read the same board on the tablet for their store (analytics.tablet).

Only what a person did at a till or in the back office counts: not imports (purchase history and
members brought from a previous system keep the importing admin as their cashier or registrar, for the
audit, but were not rung up or registered by them), not what members did themselves online or in the
mini-program, and not what an integration account recorded (stores.selectors.done_in_person)."""

from django.db.models import Count, F, Q, Sum
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
    ratio,
    sale_revenue,
)
from analytics.dashboards.registry import register
from loyalty.models import Refund, Sale, TopUp
from members.models import Member
from stores.names import staff_label
from stores.selectors import done_in_person

WITH_COUPON = ~Q(coupon_code="") | Q(coupon_discount__gt=0)
CHART_STAFF = 20
FIGURES = (
    "sales",
    "revenue",
    "coupon_sales",
    "coupon_discount",
    "registered",
    "topups",
    "topup_amount",
    "refunds",
    "refund_amount",
)
MONEY_FIGURES = ("revenue", "coupon_discount", "topup_amount", "refund_amount")


def _grouped(queryset, user: str, store: str, **aggregates) -> list[dict]:
    """Rows of `queryset` grouped by staff member and store, with their names and codes."""
    return list(
        queryset.filter(**{f"{user}__isnull": False})
        .values(
            person_id=_f(user, "id"),
            person_first=_f(user, "first_name"),
            person_last=_f(user, "last_name"),
            person_username=_f(user, "username"),
            at_store=_f(store, "id"),
            at_store_code=_f(store, "code"),
            at_store_name=_f(store, "name"),
        )
        .annotate(**aggregates)
        .order_by()
    )


def _f(relation: str, field: str) -> F:
    return F(f"{relation}__{field}")


@register
class StaffDashboard(Dashboard):
    slug = "staff"
    order = 80
    title = gettext_lazy("Staff performance")
    description = gettext_lazy(
        "What each staff member did in the period, store by store: sales rung up and their revenue, sales with a "
        "coupon, members registered, stored-value top-ups and refunds."
    )

    def build(self, scope: Scope) -> Board:
        revenue = sale_revenue()
        sources = [
            _grouped(
                Sale.objects.filter(
                    scope.period(),
                    scope.stores(),
                    done_in_person("cashier"),
                    source=Sale.Source.TILL,
                    channel=Sale.Channel.STORE,
                ),
                "cashier",
                "store",
                sales=Count("pk"),
                revenue=Sum(revenue),
                coupon_sales=Count("pk", filter=WITH_COUPON),
                coupon_discount=Sum("coupon_discount"),
            ),
            _grouped(
                Member.objects.filter(
                    scope.period("registered_at"),
                    scope.stores("registration_store_id"),
                    done_in_person("registered_by"),
                    registration_channel=Member.Channel.STORE,
                ),
                "registered_by",
                "registration_store",
                registered=Count("pk"),
            ),
            _grouped(
                TopUp.objects.filter(scope.period(), scope.stores(), done_in_person("staff")),
                "staff",
                "store",
                topups=Count("pk"),
                topup_amount=Sum("amount"),
            ),
            _grouped(
                Refund.objects.filter(scope.period(), scope.stores(), done_in_person("created_by")),
                "created_by",
                "store",
                refunds=Count("pk"),
                refund_amount=Sum("amount"),
            ),
        ]
        people: dict[tuple, dict] = {}
        for source in sources:
            for row in source:
                key = (row["person_id"], row["at_store"])
                person = people.setdefault(
                    key,
                    {
                        "name": staff_label(row["person_first"], row["person_last"], row["person_username"]),
                        "store": f"{row['at_store_code']} {row['at_store_name']}" if row["at_store"] else "",
                        **dict.fromkeys(FIGURES, 0),
                    },
                )
                for figure in FIGURES:
                    if figure in row:
                        person[figure] += row[figure] or 0
        for person in people.values():
            for figure in MONEY_FIGURES:
                person[figure] = money(person[figure])
        ordered = sorted(people.values(), key=lambda p: (-p["revenue"], -p["sales"], p["name"], p["store"]))
        sums = {figure: sum(p[figure] for p in ordered) for figure in FIGURES}
        for figure in MONEY_FIGURES:
            sums[figure] = money(sums[figure])
        staff_count = len({key[0] for key in people})
        table = Table(
            key="staff",
            title=_("By staff member"),
            columns=[
                Column("staff", _("Staff member"), TEXT),
                Column("store", _("Store"), TEXT),
                Column("sales", _("Sales"), INT),
                Column("revenue", _("Revenue"), MONEY),
                Column("ticket", _("Average ticket"), MONEY),
                Column("coupon_sales", _("With a coupon"), INT),
                Column("coupon_discount", _("Coupon discount"), MONEY),
                Column("registered", _("Registered"), INT),
                Column("topups", _("Top-ups"), INT),
                Column("topup_amount", _("Topped up"), MONEY),
                Column("refunds", _("Refunds"), INT),
                Column("refund_amount", _("Refunded"), MONEY),
            ],
            rows=[_row(p["name"], p["store"], p) for p in ordered],
            total=_row(_("Total"), "", sums) if ordered else None,
            note=_(
                "A staff member who worked at two stores has a row at each. Sales count for the cashier who rang "
                "them up; revenue is net of what was refunded of them; refunds count for who made them, whatever "
                "the sale's date; members for who registered them, at the store they were registered at. Imports, "
                "online and mini-program registrations and what integrations record are nobody's performance."
            ),
        )
        ranked = [p for p in ordered if p["revenue"]][:CHART_STAFF]
        charts = []
        if ranked:
            labels = [f"{p['name']} · {p['store'].split(' ')[0]}" if p["store"] else p["name"] for p in ranked]
            charts.append(
                Chart(
                    _("Revenue by staff member (¥)"),
                    labels,
                    [Series(_("Revenue"), [p["revenue"] for p in ranked])],
                    kind="bar",
                )
            )
        return Board(
            figures=[
                Figure(_("Staff members"), staff_count, note=_("who did anything in the period")),
                Figure(_("Sales"), sums["sales"]),
                Figure(_("Revenue"), sums["revenue"], MONEY),
                Figure(_("Members registered"), sums["registered"]),
                Figure(_("Sales with a coupon"), sums["coupon_sales"]),
                Figure(_("Topped up"), sums["topup_amount"], MONEY),
                Figure(_("Refunded"), sums["refund_amount"], MONEY),
            ],
            charts=charts,
            tables=[table],
            notes=[] if ordered else [_("No staff activity in this period.")],
        )


def _row(label: str, store: str, p: dict) -> list:
    return [
        label,
        store,
        p["sales"],
        p["revenue"],
        ratio(p["revenue"], p["sales"]),
        p["coupon_sales"],
        p["coupon_discount"],
        p["registered"],
        p["topups"],
        p["topup_amount"],
        p["refunds"],
        p["refund_amount"],
    ]
