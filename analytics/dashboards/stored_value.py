"""Stored value: what members paid in and were given as bonus, what they spent (principal and bonus),
what refunds put back and what was paid back out, by bucket; and the principal and bonus still in
the wallets at the end of the period (the chain's liability). At most three queries:

1. the period's stored-value ledger entries grouped by bucket and kind;
2. the wallets' balances now;
3. only when the period ended before today: the ledger's movements after its end, to take the
   balances back to the end of the period.

The figures are the recharge report's (admin:loyalty_recharge_report): top-ups, paid in and bonus
given are the top-up entries, spent the checkout entries, refunded back the refunds' restores, and
net spend is spent less refunded back. Flows follow the entry's store; balances belong to members:
with a store filter they are the wallets of the members whose home store it is.
"""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboards.base import (
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
from analytics.dashboards.points import ends_today
from analytics.dashboards.registry import register
from loyalty.models import Wallet, WalletEntry

K = WalletEntry.Kind
ZERO = Decimal("0.00")
MEASURES = [
    "topups",
    "paid",
    "bonus_given",
    "spent_principal",
    "spent_bonus",
    "restored",
    "net_spend",
    "withdrawn",
    "forfeited",
    "opening",
]


@register
class StoredValueDashboard(Dashboard):
    slug = "stored_value"
    order = 30
    title = gettext_lazy("Stored value")
    description = gettext_lazy(
        "Top-ups (principal paid and bonus given), stored value spent and refunded, and the principal and "
        "bonus still held in members' wallets at the end of the period."
    )

    def build(self, scope: Scope) -> Board:
        grouped = (
            WalletEntry.objects.filter(scope.period(), scope.stores())
            .order_by()
            .annotate(bucket=trunc(scope, "created_at"))
            .values("bucket", "kind")
            .annotate(n=Count("pk"), principal=Sum("principal"), bonus=Sum("bonus"))
        )
        by_bucket: dict = defaultdict(dict)
        seen = False
        for row in grouped:
            seen = True
            by_bucket[row["bucket"]][row["kind"]] = row
        rows = [_row(scope.bucket_label(day), by_bucket.get(day, {})) for day in scope.buckets()]
        total = [_("Total"), *(sum(row[i] for row in rows) for i in range(1, len(MEASURES) + 1))]
        balance = _balance_at_end(scope)
        table = Table(
            key="by_period",
            title=_("By period"),
            columns=[
                Column("period", _("Period"), TEXT),
                Column("topups", _("Top-ups")),
                Column("paid", _("Paid in"), MONEY),
                Column("bonus_given", _("Bonus given"), MONEY),
                Column("spent_principal", _("Spent: principal"), MONEY),
                Column("spent_bonus", _("Spent: bonus"), MONEY),
                Column("restored", _("Refunded back"), MONEY),
                Column("net_spend", _("Net spend"), MONEY),
                Column("withdrawn", _("Principal paid back"), MONEY),
                Column("forfeited", _("Bonus forfeited"), MONEY),
                Column("opening", _("Opening balances"), MONEY),
            ],
            rows=rows,
            total=total,
            note=_(
                "Refunded back: stored value a sale's refund returned to the wallet. Net spend: spent less "
                "refunded back. Principal paid back: a wallet's principal refunded to the member in cash; its "
                "bonus is then forfeited."
            ),
        )
        at_end = _("now") if ends_today(scope) else _("at the end of the period")
        if scope.store_ids is not None:
            at_end = f"{at_end} · {_('members whose home store is selected')}"
        labels = table.values("period")
        link = format_html(
            '{} <a href="{}?start={}&amp;end={}">{}</a>',
            _("By store, staff, day and package:"),
            reverse("admin:loyalty_recharge_report"),
            scope.start.isoformat(),
            scope.end.isoformat(),
            _("the recharge report"),
        )
        notes = [link]
        if not seen:
            notes.insert(0, _("No stored-value movements in this period."))
        return Board(
            figures=[
                Figure(_("Top-ups"), total[1]),
                Figure(_("Paid in"), total[2], MONEY),
                Figure(_("Bonus given"), total[3], MONEY),
                Figure(_("Spent"), total[4] + total[5], MONEY, _("principal and bonus")),
                Figure(_("Refunded back"), total[6], MONEY),
                Figure(_("Outstanding principal"), balance["principal"], MONEY, at_end),
                Figure(_("Outstanding bonus"), balance["bonus"], MONEY, at_end),
                Figure(_("Stored value liability"), balance["principal"] + balance["bonus"], MONEY, at_end),
            ],
            charts=[
                Chart(
                    _("Stored value in and out (¥)"),
                    labels,
                    [
                        Series(_("Paid in"), table.values("paid")),
                        Series(_("Bonus given"), table.values("bonus_given")),
                        Series(_("Net spend"), table.values("net_spend")),
                    ],
                    unit="¥",
                )
            ],
            tables=[table],
            notes=notes,
        )


def _row(label: str, kinds: dict) -> list:
    def part(kind: str, field: str) -> Decimal:
        return money(kinds.get(kind, {}).get(field))

    topup = kinds.get(K.TOP_UP, {})
    spent_principal, spent_bonus = -part(K.SPEND, "principal"), -part(K.SPEND, "bonus")
    restored = part(K.RESTORE, "principal") + part(K.RESTORE, "bonus")
    return [
        label,
        topup.get("n", 0),
        part(K.TOP_UP, "principal"),
        part(K.TOP_UP, "bonus"),
        spent_principal,
        spent_bonus,
        restored,
        spent_principal + spent_bonus - restored,
        -part(K.WITHDRAW, "principal"),
        -part(K.WITHDRAW, "bonus"),
        part(K.OPENING, "principal") + part(K.OPENING, "bonus"),
    ]


def _balance_at_end(scope: Scope) -> dict:
    """Principal and bonus in the wallets at the end of the period: the wallets now, less what the
    ledger moved after it."""
    wallets = Wallet.objects.filter(scope.stores("member__home_store_id"))
    entries = WalletEntry.objects.filter(scope.stores("member__home_store_id"))
    now = wallets.aggregate(principal=Sum("principal", default=ZERO), bonus=Sum("bonus", default=ZERO))
    if ends_today(scope):
        return {key: money(value) for key, value in now.items()}
    since = entries.filter(created_at__gte=scope.end_at).aggregate(
        principal=Sum("principal", default=ZERO), bonus=Sum("bonus", default=ZERO)
    )
    return {key: money(now[key] - since[key]) for key in now}
