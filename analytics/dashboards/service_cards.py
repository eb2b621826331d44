"""Service cards (服务卡): cards sold and what they brought in, by store and by product; services performed
by store and by staff member, with the staff's commission (提成); the usage of the cards sold; renewals;
no-shows; and the deferred revenue, the liability of prepaid services not yet used. Five grouped queries:

1. the cards sold in the period by store and product (count, revenue, uses bought and taken, renewals);
2. the period's use entries not reversed, by store, staff member (and their job) and service;
3. the commission rules (a small table);
4. the deferred revenue of the cards held now, by the store that sold them;
5. the period's closed appointments by store (done, no-show).

Definitions (also in the page's notes):
- Deferred revenue, now: for each active or frozen card (refunded ones excluded, expired ones too: their
  uses are forfeited), a count or lesson-hours card's price paid × uses left ÷ (uses bought + bonus); a
  period card's price paid × days left ÷ days of validity (all of it before its validity starts; a frozen
  card's days are counted at its freeze, as unfreezing moves its expiry by the days frozen).
- Usage: uses taken ÷ uses bought (with bonus) of the count and lesson-hours cards sold in the period.
- Renewal: a card sold in the period to a member who had an earlier card of the same kind that ran out
  (its uses reached zero: its last use) or expires no more than RENEWAL_DAYS days before this purchase;
  buying before the earlier card ends counts too.
- Commission: per use not reversed, the rule of the performer's job for that service, else the job's rule
  for every service: amount + percent × the service's price (its price now).
- No-show rate: no-shows ÷ (done + no-shows) of the appointments that started in the period.
"""

import datetime as dt
from decimal import Decimal

from django.db import models
from django.db.models import Case, Count, Exists, F, FloatField, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.base import (
    DECIMAL,
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
)
from analytics.dashboards.registry import register
from servicecards.models import Appointment, CardEntry, CardProduct, CommissionRule, MemberCard
from stores.names import staff_label

RENEWAL_DAYS = 30
ACTIVE = [MemberCard.Status.ACTIVE, MemberCard.Status.FROZEN]
USES_KINDS = [CardProduct.Kind.COUNT, CardProduct.Kind.HOURS]


class DaysBetween(models.Func):
    """(end − start) in days, fractional: interval arithmetic differs by vendor."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):
        end, start = self.source_expressions
        end_sql, end_params = compiler.compile(end)
        start_sql, start_params = compiler.compile(start)
        if connection.vendor == "sqlite":
            return f"(julianday({end_sql}) - julianday({start_sql}))", [*end_params, *start_params]
        return f"(EXTRACT(EPOCH FROM ({end_sql} - {start_sql})) / 86400.0)", [*end_params, *start_params]


def _renewal(days: int = RENEWAL_DAYS) -> Exists:
    window = dt.timedelta(days=days)
    since = OuterRef("purchased_at") - window
    earlier = (
        MemberCard.objects.filter(
            member_id=OuterRef("member_id"), kind=OuterRef("kind"), purchased_at__lt=OuterRef("purchased_at")
        )
        .exclude(status=MemberCard.Status.REFUNDED)
        .filter(
            # ran out: its last use took it to zero
            Q(uses_remaining=0, last_used_at__gte=since)
            # else it ends at its expiry, or had not ended yet (no expiry before its first use)
            | (~Q(uses_remaining=0) & (Q(expires_at__gte=since) | Q(expires_at__isnull=True)))
        )
    )
    return Exists(earlier)


def deferred_revenue(scope: Scope, now: dt.datetime | None = None) -> list[dict]:
    """By the store that sold the cards: (store, store code and name, count/hours part, period part)."""
    now = now or timezone.now()
    at = Value(now, output_field=models.DateTimeField())
    price = F("price_paid")
    uses_part = Case(
        When(
            kind__in=USES_KINDS,
            then=price * F("uses_remaining") * 1.0 / (F("uses_purchased") + F("uses_bonus")),
        ),
        default=Value(0.0),
        output_field=FloatField(),
    )
    total_days = DaysBetween(F("expires_at"), Coalesce("activated_at", "purchased_at"))
    counted_at = Case(When(status=MemberCard.Status.FROZEN, then=F("frozen_at")), default=at)
    days_left = Greatest(Value(0.0), Least(total_days, DaysBetween(F("expires_at"), counted_at)))
    period_part = Case(
        When(kind=CardProduct.Kind.PERIOD, expires_at__isnull=True, then=price * 1.0),
        When(kind=CardProduct.Kind.PERIOD, then=price * days_left / total_days),
        default=Value(0.0),
        output_field=FloatField(),
    )
    return list(
        MemberCard.objects.filter(scope.stores(), status__in=ACTIVE)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by()
        .values("store_id", "store__code", "store__name")
        .annotate(uses=Sum(uses_part), period=Sum(period_part))
    )


def _cash(value) -> Decimal:
    return money(Decimal(str(round(value or 0, 6))))


@register
class ServiceCardsDashboard(Dashboard):
    slug = "service_cards"
    order = 35
    title = gettext_lazy("Service cards")
    description = gettext_lazy(
        "Cards sold and their revenue by store and product, services performed by store and staff member with "
        "their commission, usage and renewals of the cards sold, no-shows, and the deferred revenue of the "
        "prepaid services not yet used."
    )

    def build(self, scope: Scope) -> Board:
        sold = list(
            MemberCard.objects.filter(scope.period("purchased_at"), scope.stores())
            .alias(renewal=_renewal())
            .order_by()
            .values("store_id", "store__code", "store__name", "product_id", "product__name", "product__kind")
            .annotate(
                n=Count("pk"),
                revenue=Sum("price_paid"),
                bought=Sum(F("uses_purchased") + F("uses_bonus"), filter=Q(kind__in=USES_KINDS)),
                taken=Sum("uses_taken", filter=Q(kind__in=USES_KINDS)),
                renewals=Count("pk", filter=Q(renewal=True)),
            )
        )
        used = list(
            CardEntry.objects.filter(scope.period(), scope.stores(), kind=CardEntry.Kind.USE, reversed_by__isnull=True)
            .order_by()
            .values(
                "store_id",
                "store__code",
                "store__name",
                "performed_by_id",
                "performed_by__first_name",
                "performed_by__last_name",
                "performed_by__username",
                "performed_by__service_staff__job",
                "service_id",
                "service__price",
            )
            .annotate(n=Count("pk"), uses=Sum("uses"))
        )
        rules = {(r.job, r.service_id): r for r in CommissionRule.objects.all()}
        deferred = deferred_revenue(scope)
        appointments = list(
            Appointment.objects.filter(
                scope.period("starts_at"),
                scope.stores(),
                status__in=[Appointment.Status.DONE, Appointment.Status.NO_SHOW],
            )
            .order_by()
            .values("store_id", "store__code", "store__name")
            .annotate(
                done=Count("pk", filter=Q(status=Appointment.Status.DONE)),
                no_show=Count("pk", filter=Q(status=Appointment.Status.NO_SHOW)),
            )
        )

        stores: dict[int, dict] = {}

        def store(row) -> dict:
            return stores.setdefault(
                row["store_id"],
                {
                    "name": f"{row['store__code']} {row['store__name']}",
                    "sold": 0,
                    "revenue": Decimal(0),
                    "services": 0,
                    "done": 0,
                    "no_show": 0,
                    "deferred": Decimal(0),
                },
            )

        products: dict[int, dict] = {}
        for row in sold:
            s = store(row)
            s["sold"] += row["n"]
            s["revenue"] += money(row["revenue"])
            p = products.setdefault(
                row["product_id"],
                {
                    "name": row["product__name"],
                    "kind": str(CardProduct.Kind(row["product__kind"]).label),
                    "sold": 0,
                    "revenue": Decimal(0),
                    "bought": Decimal(0),
                    "taken": Decimal(0),
                    "renewals": 0,
                },
            )
            p["sold"] += row["n"]
            p["revenue"] += money(row["revenue"])
            p["bought"] += Decimal(row["bought"] or 0)
            p["taken"] += Decimal(row["taken"] or 0)
            p["renewals"] += row["renewals"]

        staff: dict[tuple, dict] = {}
        for row in used:
            store(row)["services"] += row["n"]
            person = staff.setdefault(
                (row["performed_by_id"], row["store_id"]),
                {
                    "name": staff_label(
                        row["performed_by__first_name"], row["performed_by__last_name"], row["performed_by__username"]
                    )
                    if row["performed_by_id"]
                    else _("(not recorded)"),
                    "store": row["store__code"],
                    "services": 0,
                    "uses": Decimal(0),
                    "commission": Decimal(0),
                },
            )
            person["services"] += row["n"]
            person["uses"] += -Decimal(row["uses"] or 0)
            job = row["performed_by__service_staff__job"]
            rule = rules.get((job, row["service_id"])) or rules.get((job, None))
            if rule is not None:
                price = Decimal(row["service__price"] or 0)
                person["commission"] += money(row["n"] * (rule.amount + rule.percent * price / 100))

        for row in deferred:
            store(row)["deferred"] += _cash(row["uses"]) + _cash(row["period"])
        for row in appointments:
            s = store(row)
            s["done"] += row["done"]
            s["no_show"] += row["no_show"]

        store_rows = [
            [
                s["name"],
                s["sold"],
                money(s["revenue"]),
                s["services"],
                s["done"],
                s["no_show"],
                share(s["no_show"], s["done"] + s["no_show"]),
                money(s["deferred"]),
            ]
            for s in sorted(stores.values(), key=lambda s: s["name"])
        ]
        totals = {key: sum(s[key] for s in stores.values()) for key in ("sold", "services", "done", "no_show")}
        revenue = money(sum((s["revenue"] for s in stores.values()), Decimal(0)))
        liability = money(sum((s["deferred"] for s in stores.values()), Decimal(0)))
        no_show_rate = share(totals["no_show"], totals["done"] + totals["no_show"])
        by_store = Table(
            key="by_store",
            title=_("By store"),
            columns=[
                Column("store", _("Store"), TEXT),
                Column("sold", _("Cards sold"), INT),
                Column("revenue", _("Revenue"), MONEY),
                Column("services", _("Services performed"), INT),
                Column("done", _("Appointments kept"), INT),
                Column("no_show", _("No-shows"), INT),
                Column("no_show_rate", _("No-show rate"), PERCENT),
                Column("deferred", _("Deferred revenue now"), MONEY),
            ],
            rows=store_rows,
            total=[
                _("Total"),
                totals["sold"],
                revenue,
                totals["services"],
                totals["done"],
                totals["no_show"],
                no_show_rate,
                liability,
            ]
            if store_rows
            else None,
            note=_(
                "Cards sold and deferred revenue count at the store that sold the card; services at the store "
                "that performed them. Deferred revenue is the part of the price paid for services not yet used "
                "by active and frozen cards that have not expired: uses left ÷ uses bought (with bonus), or "
                "days left ÷ days of validity for a period card."
            ),
        )
        ordered_products = sorted(products.values(), key=lambda p: (-p["revenue"], p["name"]))
        bought = sum((p["bought"] for p in ordered_products), Decimal(0))
        taken = sum((p["taken"] for p in ordered_products), Decimal(0))
        renewals = sum(p["renewals"] for p in ordered_products)
        by_product = Table(
            key="by_product",
            title=_("By card product"),
            columns=[
                Column("product", _("Card product"), TEXT),
                Column("kind", _("Kind"), TEXT),
                Column("sold", _("Cards sold"), INT),
                Column("revenue", _("Revenue"), MONEY),
                Column("bought", _("Uses bought"), DECIMAL),
                Column("taken", _("Uses taken"), DECIMAL),
                Column("usage", _("Usage"), PERCENT),
                Column("renewals", _("Renewals"), INT),
            ],
            rows=[
                [
                    p["name"],
                    p["kind"],
                    p["sold"],
                    money(p["revenue"]),
                    p["bought"],
                    p["taken"],
                    share(p["taken"], p["bought"]),
                    p["renewals"],
                ]
                for p in ordered_products
            ],
            total=[_("Total"), "", totals["sold"], revenue, bought, taken, share(taken, bought), renewals]
            if ordered_products
            else None,
            note=_(
                "Usage: uses taken so far of the count and lesson-hours cards sold in the period, of the uses "
                "they bought with their bonus. Renewal: a card bought by a member whose earlier card of the same "
                "kind ran out or expires at most %(days)d days before (or had not ended yet)."
            )
            % {"days": RENEWAL_DAYS},
        )
        ordered_staff = sorted(staff.values(), key=lambda p: (-p["services"], p["name"], p["store"]))
        commission = money(sum((p["commission"] for p in ordered_staff), Decimal(0)))
        by_staff = Table(
            key="by_staff",
            title=_("By staff member"),
            columns=[
                Column("staff", _("Staff member"), TEXT),
                Column("store", _("Store"), TEXT),
                Column("services", _("Services performed"), INT),
                Column("uses", _("Uses taken"), DECIMAL),
                Column("commission", _("Commission"), MONEY),
            ],
            rows=[[p["name"], p["store"], p["services"], p["uses"], money(p["commission"])] for p in ordered_staff],
            total=[_("Total"), "", totals["services"], sum((p["uses"] for p in ordered_staff), Decimal(0)), commission]
            if ordered_staff
            else None,
            note=_(
                "A use reversed is not counted. Commission (提成) per service: the rule for the staff member's "
                "job and that service, else the job's rule for every service: its amount plus its percentage "
                "of the service's price."
            ),
        )
        charts = []
        if ordered_products:
            charts.append(
                Chart(
                    _("Revenue by card product (¥)"),
                    [p["name"] for p in ordered_products],
                    [Series(_("Revenue"), [money(p["revenue"]) for p in ordered_products])],
                    kind="bar",
                )
            )
        notes = []
        if not sold and not used:
            notes.append(_("No cards sold or used in this period."))
        return Board(
            figures=[
                Figure(_("Cards sold"), totals["sold"]),
                Figure(_("Revenue"), revenue, MONEY),
                Figure(_("Services performed"), totals["services"]),
                Figure(_("Usage"), share(taken, bought), PERCENT, _("of the cards sold in the period")),
                Figure(_("Renewals"), renewals),
                Figure(_("Commission"), commission, MONEY),
                Figure(_("No-show rate"), no_show_rate, PERCENT),
                Figure(_("Deferred revenue"), liability, MONEY, _("now")),
            ],
            charts=charts,
            tables=[by_store, by_product, by_staff],
            notes=notes,
        )
