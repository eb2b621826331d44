"""The measured effect of a campaign or an automation: who was reached, what they used, what the target
group bought against the holdout group, what it cost and the ROI.

Revenue is what a sale's customer paid for the goods (money, stored value and points at their value)
less what was refunded, of the sales made in each member's window: [starts_at, min(now, ends_at)) for
a campaign, [reached, +30 days) for an automation. Incremental revenue is the difference of the two
groups' revenue per member times the target group's size. Cost is the discount of the coupons used plus
the points given (awarded, and the extra of the boosts) at the value a point pays at the till.

The extra points of a boost are estimated from the target group's sales in the boost's window as
points × (1 − 1 / multiplier): a sale whose member had another, better multiplier is counted as if
the campaign's gave it. Every figure comes from a constant number of grouped queries.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Automation, AutomationEffect, Campaign, CampaignMember, Coupon, Message, PointsBoost
from loyalty.models import LoyaltySettings, PointsEntry
from loyalty.selectors import sale_revenue

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
AUTOMATION_WINDOW = timedelta(days=30)
_MONEY = DecimalField(max_digits=14, decimal_places=2)


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class GroupFigures:
    members: int
    buyers: int
    sales: int
    revenue: Decimal

    @property
    def revenue_per_member(self) -> Decimal | None:
        return (self.revenue / self.members).quantize(CENT, rounding=ROUND_HALF_UP) if self.members else None

    @property
    def buyer_rate(self) -> Decimal | None:
        return (Decimal(self.buyers) / self.members).quantize(Decimal("0.0001")) if self.members else None


@dataclass(frozen=True)
class DayFigures:
    day: date
    target: Decimal  # revenue per target member that day
    holdout: Decimal | None  # per holdout member; None without a holdout group
    target_to_date: Decimal
    holdout_to_date: Decimal | None


@dataclass(frozen=True)
class Effect:
    """What CampaignEffect and automation_effect answer."""

    starts_at: datetime | None
    ends_at: datetime | None
    live: bool
    reached: int
    messages_sent: int
    coupons_issued: int
    coupons_redeemed: int
    target: GroupFigures
    holdout: GroupFigures
    coupon_cost: Decimal
    points_awarded: int
    boost_points: int
    point_value: Decimal  # ¥ per point
    series: list[DayFigures] = field(default_factory=list)
    not_measured_reason: str = ""

    @property
    def redemption_rate(self) -> Decimal | None:
        if not self.coupons_issued:
            return None
        return (Decimal(self.coupons_redeemed) / self.coupons_issued).quantize(Decimal("0.0001"))

    @property
    def measured(self) -> bool:
        return not self.not_measured_reason

    @property
    def incremental_revenue(self) -> Decimal | None:
        if not self.measured:
            return None
        lift = self.target.revenue / self.target.members - self.holdout.revenue / self.holdout.members
        return (lift * self.target.members).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def points_cost(self) -> Decimal:
        return ((self.points_awarded + self.boost_points) * self.point_value).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def cost(self) -> Decimal:
        return self.coupon_cost + self.points_cost

    @property
    def roi(self) -> Decimal | None:
        """(incremental revenue − cost) / cost, e.g. 2.5 for 250 %."""
        if self.incremental_revenue is None or not self.cost:
            return None
        return ((self.incremental_revenue - self.cost) / self.cost).quantize(Decimal("0.0001"))

    @property
    def roi_reason(self) -> str:
        if not self.measured:
            return self.not_measured_reason
        if not self.cost:
            return _("Nothing has cost anything yet (no coupon used, no points given): ROI needs a cost.")
        return ""


# The name the brief and the back office use for a campaign's.
CampaignEffect = Effect


def _group_figures(rows: dict, group: str, members: int) -> GroupFigures:
    row = rows.get(group) or {}
    return GroupFigures(
        members=members,
        buyers=row.get("buyers") or 0,
        sales=row.get("sales") or 0,
        revenue=_money(row.get("revenue")),
    )


def _in_window(start, end, *, until=None) -> Q:
    """Sales of the exposure's member from `start` to `end` (values or expressions over its columns)."""
    q = Q(member__sales__created_at__gte=start, member__sales__created_at__lt=end)
    if until is not None:
        q &= Q(member__sales__created_at__lt=until)
    return q


_REVENUE = sale_revenue("member__sales__")


def _sales_by_group(
    exposures: QuerySet, *, group_field: str, window: Q, boost_end=None, boosted=None, extra_groups=()
) -> dict:
    """One grouped query: per group, sales, buyers, net revenue (and points earned before `boost_end`,
    or the `boosted` expression's sum) of the exposures' members within each one's window. `exposures`
    are CampaignMember or AutomationEffect rows; the sales are joined once, by the one filter. With
    `extra_groups` (e.g. ["campaign_id"]) the rows are keyed by (those fields…, group)."""
    aggregates = {
        "sales": Count("member__sales"),
        "buyers": Count("member_id", distinct=True),
        "revenue": Coalesce(Sum(_REVENUE), ZERO, output_field=_MONEY),
    }
    if boost_end is not None:
        boosted = Sum("member__sales__points_earned", filter=Q(member__sales__created_at__lt=boost_end))
    if boosted is not None:
        aggregates["boosted_points"] = Coalesce(boosted, 0, output_field=IntegerField())
    fields = [*extra_groups, group_field]
    rows = exposures.filter(window).values(*fields).annotate(**aggregates).order_by()
    if extra_groups:
        return {tuple(row[f] for f in fields): row for row in rows}
    return {row[group_field]: row for row in rows}


def _daily(exposures: QuerySet, *, group_field: str, window: Q):
    rows = (
        exposures.filter(window)
        .annotate(day=TruncDate("member__sales__created_at", tzinfo=timezone.get_current_timezone()))
        .values(group_field, "day")
        .annotate(revenue=Sum(_REVENUE))
        .order_by("day")
    )
    return [(row[group_field], row["day"], _money(row["revenue"])) for row in rows]


def _series(daily, *, first: date, last: date, target_members: int, holdout_members: int) -> list[DayFigures]:
    by_day: dict[date, dict[str, Decimal]] = {}
    for group, day, revenue in daily:
        by_day.setdefault(day, {})[group] = revenue
    series, target_sum, holdout_sum = [], ZERO, ZERO
    day = first
    while day <= last:
        values = by_day.get(day, {})
        target = values.get("target", ZERO)
        holdout = values.get("holdout", ZERO)
        target_sum += target
        holdout_sum += holdout

        def per(amount, members):
            return (amount / members).quantize(CENT, rounding=ROUND_HALF_UP) if members else None

        series.append(
            DayFigures(
                day=day,
                target=per(target, target_members) or ZERO,
                holdout=per(holdout, holdout_members),
                target_to_date=per(target_sum, target_members) or ZERO,
                holdout_to_date=per(holdout_sum, holdout_members),
            )
        )
        day += timedelta(days=1)
    return series


def point_value() -> Decimal:
    """What a point is worth at the till (¥), the value the effects cost points at: one query."""
    return Decimal(1) / Decimal(LoyaltySettings.current().redeem_points_per_yuan)


_point_value = point_value


def _not_measured(target: int, holdout: int) -> str:
    if not target:
        return _("No member was reached yet.")
    if not holdout:
        return _("There is no holdout group: the effect cannot be measured against one.")
    return ""


def _coupon_figures(coupons: QuerySet) -> dict:
    used = Q(status=Coupon.Status.USED)
    return coupons.aggregate(
        issued=Count("pk"),
        redeemed=Count("pk", filter=used),
        discount=Coalesce(Sum("discount", filter=used), ZERO, output_field=_MONEY),
    )


def _messages_sent(messages: QuerySet) -> int:
    return messages.filter(status=Message.Status.SENT).count()


def _boost_extra(points_earned: int, multiplier: Decimal) -> int:
    if not points_earned or multiplier <= 1:
        return 0
    return int((Decimal(points_earned) * (1 - 1 / multiplier)).to_integral_value(rounding=ROUND_HALF_UP))


def _not_launched(campaign: Campaign, point_value: Decimal) -> Effect:
    empty = GroupFigures(members=0, buyers=0, sales=0, revenue=ZERO)
    return Effect(
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        live=False,
        reached=0,
        messages_sent=0,
        coupons_issued=0,
        coupons_redeemed=0,
        target=empty,
        holdout=empty,
        coupon_cost=ZERO,
        points_awarded=0,
        boost_points=0,
        point_value=point_value,
        not_measured_reason=_("The campaign has not been launched yet."),
    )


def _campaign_result(
    campaign: Campaign,
    *,
    now: datetime,
    point_value: Decimal,
    by_group: dict,
    coupons: dict,
    points_awarded: int,
    messages_sent: int,
    series: list[DayFigures],
) -> Effect:
    """A launched campaign's Effect from its figures: what campaign_effect and campaign_effects share."""
    target_members, holdout_members = campaign.target_count, campaign.holdout_count
    target = _group_figures(by_group, CampaignMember.Group.TARGET, target_members)
    holdout = _group_figures(by_group, CampaignMember.Group.HOLDOUT, holdout_members)
    boosted = (by_group.get(CampaignMember.Group.TARGET) or {}).get("boosted_points") or 0
    return Effect(
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        live=campaign.status == Campaign.Status.RUNNING and now < campaign.ends_at,
        reached=target_members,
        messages_sent=messages_sent,
        coupons_issued=coupons["issued"],
        coupons_redeemed=coupons["redeemed"],
        target=target,
        holdout=holdout,
        coupon_cost=_money(coupons["discount"]),
        points_awarded=points_awarded or 0,
        boost_points=_boost_extra(boosted, campaign.multiplier),
        point_value=point_value,
        series=series,
        not_measured_reason=_not_measured(target_members, holdout_members),
    )


def campaign_effect(campaign: Campaign, *, now: datetime | None = None) -> Effect:
    """The campaign's effect over [starts_at, min(now, ends_at)), live while it runs."""
    now = now or timezone.now()
    point_value = _point_value()
    if campaign.launched_at is None:
        return _not_launched(campaign, point_value)
    start = campaign.starts_at
    end = min(now, campaign.ends_at)
    exposures = CampaignMember.objects.filter(campaign_id=campaign.pk)
    window = _in_window(start, end)
    by_group = _sales_by_group(
        exposures, group_field="group", window=window, boost_end=end if campaign.multiplier > 1 else None
    )
    coupons = _coupon_figures(Coupon.objects.filter(campaign_id=campaign.pk))
    points_awarded = 0
    if campaign.points:
        points_awarded = PointsEntry.objects.filter(
            member_id__in=exposures.filter(group=CampaignMember.Group.TARGET).values("member_id"),
            idempotency_key__startswith=f"campaign:{campaign.pk}:member:",
        ).aggregate(total=Coalesce(Sum("points"), 0))["total"]
    series = []
    if end > start:
        series = _series(
            _daily(exposures, group_field="group", window=window),
            first=timezone.localdate(start),
            last=timezone.localdate(end - timedelta(microseconds=1)),
            target_members=campaign.target_count,
            holdout_members=campaign.holdout_count,
        )
    return _campaign_result(
        campaign,
        now=now,
        point_value=point_value,
        by_group=by_group,
        coupons=coupons,
        points_awarded=points_awarded,
        messages_sent=_messages_sent(Message.objects.filter(campaign_id=campaign.pk)),
        series=series,
    )


def _sum_of(queryset: QuerySet, field_name: str, output_field):
    """SUM(field) of the rows of a correlated `queryset` (one row, no GROUP BY), 0 for none."""
    total = queryset.order_by().annotate(total=Func(F(field_name), function="SUM", output_field=output_field))
    return Coalesce(Subquery(total.values("total")[:1], output_field=output_field), 0, output_field=output_field)


def _count_of(queryset: QuerySet):
    counted = queryset.order_by().annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
    return Coalesce(Subquery(counted.values("n")[:1], output_field=IntegerField()), 0, output_field=IntegerField())


def campaign_effects(
    campaigns: QuerySet, *, now: datetime | None = None, point_value: Decimal | None = None
) -> list[tuple[Campaign, Effect]]:
    """`campaign_effect` of every campaign of `campaigns` (a queryset, in its order) without the daily
    series, in two queries whatever their number (three without `point_value`): the campaigns with
    their coupons, messages and points as per-campaign subqueries, and every launched campaign's
    target and holdout sales grouped by campaign and group."""
    now = now or timezone.now()
    point_value = _point_value() if point_value is None else point_value
    used = Q(status=Coupon.Status.USED)
    coupons = Coupon.objects.filter(campaign_id=OuterRef("pk"))
    targets = CampaignMember.objects.filter(
        campaign_id=OuterRef(OuterRef("pk")), group=CampaignMember.Group.TARGET
    ).values("member_id")
    key_prefix = Concat(Value("campaign:"), Cast(OuterRef("pk"), CharField()), Value(":member:"))
    points = PointsEntry.objects.filter(member_id__in=targets, idempotency_key__startswith=key_prefix)
    listed = list(
        campaigns.annotate(
            effect_coupons_issued=_count_of(coupons),
            effect_coupons_redeemed=_count_of(coupons.filter(used)),
            effect_coupon_cost=_sum_of(coupons.filter(used), "discount", _MONEY),
            effect_messages_sent=_count_of(
                Message.objects.filter(campaign_id=OuterRef("pk"), status=Message.Status.SENT)
            ),
            effect_points_awarded=Case(
                When(points__gt=0, then=_sum_of(points, "points", IntegerField())),
                default=Value(0),
                output_field=IntegerField(),
            ),
        )
    )
    launched = [c.pk for c in listed if c.launched_at is not None]
    by_campaign: dict[int, dict] = {}
    if launched:
        window = Q(
            member__sales__created_at__gte=F("campaign__starts_at"),
            member__sales__created_at__lt=F("campaign__ends_at"),
        ) & Q(member__sales__created_at__lt=now)
        rows = _sales_by_group(
            CampaignMember.objects.filter(campaign_id__in=launched),
            group_field="group",
            window=window,
            boost_end=now,  # every sale of the window is before its end; used where the multiplier is above 1
            extra_groups=["campaign_id"],
        )
        for (campaign_id, group), row in rows.items():
            by_campaign.setdefault(campaign_id, {})[group] = row
    results = []
    for campaign in listed:
        if campaign.launched_at is None:
            results.append((campaign, _not_launched(campaign, point_value)))
            continue
        effect = _campaign_result(
            campaign,
            now=now,
            point_value=point_value,
            by_group=by_campaign.get(campaign.pk, {}),
            coupons={
                "issued": campaign.effect_coupons_issued,
                "redeemed": campaign.effect_coupons_redeemed,
                "discount": campaign.effect_coupon_cost,
            },
            points_awarded=campaign.effect_points_awarded,
            messages_sent=campaign.effect_messages_sent,
            series=[],
        )
        results.append((campaign, effect))
    return results


HOLDOUT_SKIP = "holdout"


def _automation_result(
    automation: Automation,
    *,
    point_value: Decimal,
    reached: int,
    held_out: int,
    rows: dict,
    coupons: dict,
    points_awarded: int,
    first: datetime | None,
    has_boosts: bool,
    messages_sent: int,
    series: list[DayFigures],
) -> Effect:
    """An automation's Effect from its figures: what automation_effect and automation_effects share.
    `rows` are the sales by group, keyed "target" and "holdout"."""
    target = _group_figures(rows, "target", reached)
    holdout = _group_figures(rows, "holdout", held_out)
    boosted = (rows.get("target") or {}).get("boosted_points") or 0
    return Effect(
        starts_at=first,
        ends_at=None,
        live=automation.is_active,
        reached=reached,
        messages_sent=messages_sent,
        coupons_issued=coupons["issued"],
        coupons_redeemed=coupons["redeemed"],
        target=target,
        holdout=holdout,
        coupon_cost=_money(coupons["discount"]),
        points_awarded=points_awarded or 0,
        boost_points=_boost_extra(boosted, automation.multiplier) if has_boosts else 0,
        point_value=point_value,
        series=series,
        not_measured_reason=_not_measured(reached, held_out),
    )


def _boost_end(automation: Automation):
    if automation.multiplier > 1 and automation.multiplier_days:
        return F("created_at") + timedelta(days=automation.multiplier_days)
    return None


def automation_effect(automation: Automation, *, now: datetime | None = None) -> Effect:
    """The same figures over an automation's effects: reached (nothing skipped) against held out
    (skipped "holdout"), each over [its effect's time, +30 days), up to now. A member reached twice
    counts twice, each time with its own window."""
    now = now or timezone.now()
    exposures = AutomationEffect.objects.filter(automation_id=automation.pk, skipped__in=["", HOLDOUT_SKIP])
    counts = dict(exposures.values_list("skipped").annotate(n=Count("pk")).order_by().values_list("skipped", "n"))
    reached, held_out = counts.get("", 0), counts.get(HOLDOUT_SKIP, 0)
    boost_end = _boost_end(automation)
    window = _in_window(F("created_at"), F("created_at") + AUTOMATION_WINDOW, until=now)
    by_group = _sales_by_group(exposures, group_field="skipped", window=window, boost_end=boost_end)
    rows = {("target" if key == "" else "holdout"): row for key, row in by_group.items()}
    coupons = _coupon_figures(Coupon.objects.filter(automation_id=automation.pk))
    points_awarded = exposures.filter(skipped="").aggregate(total=Coalesce(Sum("points"), 0))["total"]
    first = exposures.order_by("created_at").values_list("created_at", flat=True).first()
    series = []
    if first is not None and first < now:
        daily = _daily(exposures, group_field="skipped", window=window)
        series = _series(
            [("target" if g == "" else "holdout", day, revenue) for g, day, revenue in daily],
            first=timezone.localdate(first),
            last=timezone.localdate(now),
            target_members=reached,
            holdout_members=held_out,
        )
    has_boosts = boost_end is not None and PointsBoost.objects.filter(automation_id=automation.pk).exists()
    return _automation_result(
        automation,
        point_value=_point_value(),
        reached=reached,
        held_out=held_out,
        rows=rows,
        coupons=coupons,
        points_awarded=points_awarded,
        first=first,
        has_boosts=has_boosts,
        messages_sent=_messages_sent(Message.objects.filter(automation_id=automation.pk)),
        series=series,
    )


def automation_effects(
    automations: QuerySet,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    point_value: Decimal | None = None,
) -> list[tuple[Automation, Effect]]:
    """`automation_effect` of every automation of `automations` (a queryset, in its order) without the
    daily series, in two queries whatever their number (three without `point_value`).

    With `since` / `until` only the effects (members reached or held out) of [since, until) count, and
    the coupons issued and messages queued in it: a cohort of the period, each still followed over its
    30 days up to now. Without them the figures are automation_effect's.
    """
    now = now or timezone.now()
    point_value = _point_value() if point_value is None else point_value
    period = Q()
    if since is not None:
        period &= Q(created_at__gte=since)
    if until is not None:
        period &= Q(created_at__lt=until)
    issued = Q(issued_at__gte=since) if since is not None else Q()
    if until is not None:
        issued &= Q(issued_at__lt=until)
    exposures = AutomationEffect.objects.filter(period, skipped__in=["", HOLDOUT_SKIP])
    mine = exposures.filter(automation_id=OuterRef("pk"))
    used = Q(status=Coupon.Status.USED)
    coupons = Coupon.objects.filter(issued, automation_id=OuterRef("pk"))
    first = Subquery(mine.order_by("created_at").values("created_at")[:1])
    listed = list(
        automations.annotate(
            effect_reached=_count_of(mine.filter(skipped="")),
            effect_held_out=_count_of(mine.filter(skipped=HOLDOUT_SKIP)),
            effect_points_awarded=_sum_of(mine.filter(skipped=""), "points", IntegerField()),
            effect_first=first,
            effect_coupons_issued=_count_of(coupons),
            effect_coupons_redeemed=_count_of(coupons.filter(used)),
            effect_coupon_cost=_sum_of(coupons.filter(used), "discount", _MONEY),
            effect_messages_sent=_count_of(
                Message.objects.filter(period, automation_id=OuterRef("pk"), status=Message.Status.SENT)
            ),
            effect_has_boosts=Exists(PointsBoost.objects.filter(automation_id=OuterRef("pk"))),
        )
    )
    boosting = {a.pk: a.multiplier_days for a in listed if _boost_end(a) is not None}
    by_automation: dict[int, dict] = {}
    measured = [a.pk for a in listed if a.effect_reached or a.effect_held_out]
    if measured:
        # Each automation's boost lasts its own number of days: one branch per distinct length.
        boosted = None
        if boosting:
            boosted = Sum(
                Case(
                    *(
                        When(
                            Q(automation__multiplier_days=days)
                            & Q(member__sales__created_at__lt=F("created_at") + timedelta(days=days)),
                            then=F("member__sales__points_earned"),
                        )
                        for days in sorted(set(boosting.values()))
                    ),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            )
        window = _in_window(F("created_at"), F("created_at") + AUTOMATION_WINDOW, until=now)
        rows = _sales_by_group(
            exposures.filter(automation_id__in=measured),
            group_field="skipped",
            window=window,
            boosted=boosted,
            extra_groups=["automation_id"],
        )
        for (automation_id, skipped), row in rows.items():
            by_automation.setdefault(automation_id, {})["target" if skipped == "" else "holdout"] = row
    results = []
    for automation in listed:
        effect = _automation_result(
            automation,
            point_value=point_value,
            reached=automation.effect_reached,
            held_out=automation.effect_held_out,
            rows=by_automation.get(automation.pk, {}),
            coupons={
                "issued": automation.effect_coupons_issued,
                "redeemed": automation.effect_coupons_redeemed,
                "discount": automation.effect_coupon_cost,
            },
            points_awarded=automation.effect_points_awarded,
            first=automation.effect_first,
            has_boosts=automation.pk in boosting and automation.effect_has_boosts,
            messages_sent=automation.effect_messages_sent,
            series=[],
        )
        results.append((automation, effect))
    return results
