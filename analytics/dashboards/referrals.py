"""Referrals and KOC: the members who came by referral in the period, the referrers who brought them,
the referral coefficient (new members brought per active referrer), and the ranking of the referrers
who brought the most (key opinion consumers). Four queries: the period's totals, the same by bucket,
the ranking, and the referral rewards paid in the period.

The ranking names members by name and member code only: the board is the same for every reader, so it
shows no phone number, masked or not."""

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce, Greatest
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
    ratio,
    share,
    trunc,
)
from analytics.dashboards.registry import register
from loyalty.models import ReferralReward
from members.models import Member

REFERRED = Q(referrer__isnull=False)
TOP = 50
CHART_TOP = 10
MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


def _spend(prefix: str = ""):
    """A member's lifetime spend net of refunds from their statistics: 0 for who never bought, and never
    below 0 (refunds of what points paid, or of history imported without its sales, can exceed it)."""
    net = ExpressionWrapper(
        F(f"{prefix}stats__total_spend") - F(f"{prefix}stats__total_refunded"), output_field=MONEY_FIELD
    )
    return Greatest(Coalesce(net, 0, output_field=MONEY_FIELD), 0, output_field=MONEY_FIELD)


@register
class ReferralsDashboard(Dashboard):
    slug = "referrals"
    order = 100
    title = gettext_lazy("Referrals and KOC")
    description = gettext_lazy(
        "Members who came by referral, the referrers who brought them and how many each brought (the referral "
        "coefficient), and the ranking of the referrers who brought the most: how many of their members bought "
        "and what they spent."
    )

    def build(self, scope: Scope) -> Board:
        new = Member.objects.filter(scope.period("registered_at"), scope.stores("registration_store_id"))
        totals = new.aggregate(
            new=Count("pk"),
            referred=Count("pk", filter=REFERRED),
            referrers=Count("referrer_id", distinct=True),
        )
        by_bucket = {
            row["bucket"]: row
            for row in new.annotate(bucket=trunc(scope, "registered_at"))
            .values("bucket")
            .annotate(new=Count("pk"), referred=Count("pk", filter=REFERRED))
            .order_by()
        }
        ranking = list(
            new.filter(REFERRED)
            .values("referrer_id", "referrer__name", "referrer__code")
            .annotate(
                brought=Count("pk"),
                bought=Count("pk", filter=Q(stats__purchase_count__gt=0)),
                their_spend=Sum(_spend()),
                own_spend=_spend("referrer__"),
            )
            .order_by("-brought", "-their_spend", "referrer_id")[:TOP]
        )
        rewards = ReferralReward.objects.filter(
            scope.period(), scope.stores("referred__registration_store_id")
        ).aggregate(
            count=Count("pk"),
            points=Coalesce(Sum(F("referrer_points") + F("referred_points")), 0),
        )

        coefficient = ratio(totals["referred"], totals["referrers"])
        period_rows = []
        for day in scope.buckets():
            row = by_bucket.get(day, {})
            n, referred = row.get("new", 0), row.get("referred", 0)
            period_rows.append([scope.bucket_label(day), n, referred, share(referred, n)])
        by_period = Table(
            key="by_period",
            title=_("New members by period"),
            columns=[
                Column("period", _("Period"), TEXT),
                Column("new", _("New members"), INT),
                Column("referred", _("Came by referral"), INT),
                Column("referred_share", _("Share by referral"), PERCENT),
            ],
            rows=period_rows,
            total=[_("Total"), totals["new"], totals["referred"], share(totals["referred"], totals["new"])],
        )
        koc_rows = [
            [
                i,
                row["referrer__name"],
                row["referrer__code"],
                row["brought"],
                row["bought"],
                share(row["bought"], row["brought"]),
                money(row["their_spend"]),
                money(row["own_spend"]),
            ]
            for i, row in enumerate(ranking, start=1)
        ]
        koc = Table(
            key="koc",
            title=_("Top referrers (KOC)"),
            columns=[
                Column("rank", _("Rank"), INT),
                Column("name", _("Referrer"), TEXT),
                Column("code", _("Member code"), TEXT),
                Column("brought", _("Members brought"), INT),
                Column("bought", _("Of them bought"), INT),
                Column("bought_share", _("Share who bought"), PERCENT),
                Column("their_spend", _("Their spend"), MONEY),
                Column("own_spend", _("Referrer's own spend"), MONEY),
            ],
            rows=koc_rows,
            note=_(
                "The %(top)d referrers who brought the most members registered in the period. “Bought” counts those "
                "members who have made a purchase since; spend is paid with money and stored value less refunds, "
                "since registration (the members' statistics). Members are shown by name and member code, without "
                "phone numbers."
            )
            % {"top": TOP},
        )
        labels = by_period.values("period")
        charts = [
            Chart(
                _("New members and those who came by referral"),
                labels,
                [
                    Series(_("New members"), by_period.values("new")),
                    Series(_("Came by referral"), by_period.values("referred")),
                ],
            )
        ]
        top = koc_rows[:CHART_TOP]
        if top:
            charts.append(
                Chart(
                    _("Members brought by the top referrers"),
                    [f"{r[1]} ({r[2]})" for r in top],
                    [
                        Series(_("Members brought"), [r[3] for r in top]),
                        Series(_("Of them bought"), [r[4] for r in top]),
                    ],
                    kind="bar",
                )
            )
        return Board(
            figures=[
                Figure(_("New members"), totals["new"]),
                Figure(_("Came by referral"), totals["referred"]),
                Figure(_("Share by referral"), share(totals["referred"], totals["new"]), PERCENT),
                Figure(_("Referrers"), totals["referrers"], note=_("who brought someone in the period")),
                Figure(
                    _("Referral coefficient"),
                    coefficient,
                    DECIMAL,
                    _("new members brought per referrer"),
                ),
                Figure(
                    _("Referral rewards paid"), rewards["count"], note=_("first qualifying purchases in the period")
                ),
                Figure(_("Points given for referrals"), rewards["points"]),
            ],
            charts=charts,
            tables=[koc, by_period],
            notes=[] if totals["referred"] else [_("No member came by referral in this period.")],
        )
