"""Campaign ROI: the campaigns running in the period and the automations that reached members in it, each
with its measured effect against its holdout group (campaigns.selectors.effect): members reached,
coupons redeemed, revenue per member of the target and the holdout group, incremental revenue, cost and
ROI. Five queries whatever the number of campaigns: the point value, the campaigns with their coupons,
messages and points, their groups' sales, and the same two for the automations.

Chain-wide: a campaign reaches a segment of the chain's members, not a store's."""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.base import (
    CENT,
    DATE,
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
)
from analytics.dashboards.registry import register
from campaigns.models import Automation, AutomationEffect, Campaign
from campaigns.selectors.effect import HOLDOUT_SKIP, Effect, automation_effects, campaign_effects, point_value

CHART_ROWS = 20


def roi_percent(roi: Decimal | None) -> Decimal | None:
    return None if roi is None else (roi * 100).quantize(CENT, rounding=ROUND_HALF_UP)


@register
class CampaignsDashboard(Dashboard):
    slug = "campaigns"
    order = 90
    uses_stores = False
    title = gettext_lazy("Campaign ROI")
    description = gettext_lazy(
        "The campaigns running in the period and the automations that reached members in it: members reached, "
        "coupons redeemed, revenue per member of the target group against the holdout group, the incremental "
        "revenue, the cost and the ROI."
    )

    def build(self, scope: Scope) -> Board:
        now = timezone.now()
        value = point_value()
        campaigns = Campaign.objects.filter(
            launched_at__isnull=False, starts_at__lt=scope.end_at, ends_at__gt=scope.start_at
        ).order_by("-starts_at", "-id")
        reached_in_period = AutomationEffect.objects.filter(
            scope.period(), automation_id=OuterRef("pk"), skipped__in=["", HOLDOUT_SKIP]
        )
        automations = Automation.objects.filter(Exists(reached_in_period)).order_by("name", "id")
        of_campaigns = campaign_effects(campaigns, now=now, point_value=value)
        of_automations = automation_effects(
            automations, now=now, since=scope.start_at, until=scope.end_at, point_value=value
        )
        effects = [
            (campaign.name, _("Campaign"), timezone.localdate(campaign.starts_at), effect)
            for campaign, effect in of_campaigns
        ] + [
            (automation.name, _("Automation"), _local(effect.starts_at), effect)
            for automation, effect in of_automations
        ]
        rows = [_row(name, kind, start, effect) for name, kind, start, effect in effects]
        every = [effect for *_rest, effect in effects]
        measured = [e for e in every if e.incremental_revenue is not None]
        incremental = sum((e.incremental_revenue for e in measured), Decimal("0.00"))
        measured_cost = sum((e.cost for e in measured), Decimal("0.00"))
        cost = sum((e.cost for e in every), Decimal("0.00"))
        roi = None
        if measured_cost:
            roi = roi_percent((incremental - measured_cost) / measured_cost)
        reached = sum(e.reached for e in every)
        redeemed = sum(e.coupons_redeemed for e in every)
        table = Table(
            key="effects",
            title=_("Campaigns and automations"),
            columns=[
                Column("name", _("Name"), TEXT),
                Column("kind", _("Kind"), TEXT),
                Column("start", _("Started"), DATE),
                Column("reached", _("Reached"), INT),
                Column("held_out", _("Held out"), INT),
                Column("coupons", _("Coupons redeemed"), INT),
                Column("target", _("Target, per member"), MONEY),
                Column("holdout", _("Holdout, per member"), MONEY),
                Column("incremental", _("Incremental revenue"), MONEY),
                Column("cost", _("Cost"), MONEY),
                Column("roi", _("ROI"), PERCENT),
                Column("why", _("Note"), TEXT),
            ],
            rows=rows,
            total=[
                _("Total"),
                "",
                None,
                reached,
                sum(e.holdout.members for e in every),
                redeemed,
                None,
                None,
                incremental,
                cost,
                roi,
                _("ROI of the measured ones"),
            ]
            if rows
            else None,
            note=_(
                "A campaign's effect covers its whole window up to now; an automation's, the members it reached or "
                "held out in the period, each followed for 30 days up to now (and the coupons and messages it "
                "issued in the period). Revenue is what the group's members paid (money, stored value, points at "
                "their value) less refunds; incremental revenue is the difference per member times the target "
                "group; cost is the coupons' discount plus the points given at ¥%(value)s a point; ROI is "
                "(incremental revenue − cost) ÷ cost. Without a holdout group nothing is measured, and the total "
                "counts only the measured ones."
            )
            % {"value": value.normalize()},
        )
        charted = [r for r in rows if r[8] is not None or r[9]][:CHART_ROWS]
        charts = []
        if charted:
            charts.append(
                Chart(
                    _("Incremental revenue and cost (¥)"),
                    [r[0] for r in charted],
                    [
                        Series(_("Incremental revenue"), [r[8] for r in charted]),
                        Series(_("Cost"), [r[9] for r in charted]),
                    ],
                    kind="bar",
                )
            )
        return Board(
            figures=[
                Figure(_("Campaigns"), len(of_campaigns)),
                Figure(_("Automations"), len(of_automations)),
                Figure(_("Members reached"), reached),
                Figure(_("Coupons redeemed"), redeemed),
                Figure(_("Incremental revenue"), incremental, MONEY, _("of those with a holdout group")),
                Figure(_("Cost"), cost, MONEY),
                Figure(_("ROI"), roi, PERCENT, _("of those with a holdout group")),
            ],
            charts=charts,
            tables=[table],
            notes=[] if rows else [_("No campaign ran and no automation reached anyone in this period.")],
        )


def _local(moment):
    return timezone.localdate(moment) if moment is not None else None


def _row(name: str, kind: str, start, effect: Effect) -> list:
    return [
        name,
        kind,
        start,
        effect.reached,
        effect.holdout.members,
        effect.coupons_redeemed,
        effect.target.revenue_per_member,
        effect.holdout.revenue_per_member,
        effect.incremental_revenue,
        effect.cost,
        roi_percent(effect.roi),
        effect.roi_reason,
    ]
