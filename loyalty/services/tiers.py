"""Tiers: upgrade at once when a sale crosses a threshold, downgrade only at evaluation."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, DecimalField, IntegerField, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import field_error
from loyalty.models import MemberDailySpend, MemberStats, Sale, Tier, TierChange, TierPolicy


def _metric_expression(metric: str):
    if metric == Tier.Metric.POINTS:
        return Coalesce(Sum("points_earned"), Value(0), output_field=IntegerField())
    if metric == Tier.Metric.VISITS:
        return Coalesce(Sum("visits"), Value(0), output_field=IntegerField())
    return Coalesce(Sum("spend"), Value(Decimal("0.00")), output_field=DecimalField(max_digits=14, decimal_places=2))


def qualifying_value(member_id: int, *, policy: TierPolicy, as_of: datetime | None = None) -> Decimal:
    today = timezone.localdate(as_of or timezone.now())
    since = today - timedelta(days=policy.window_days - 1)
    value = MemberDailySpend.objects.filter(member_id=member_id, day__gte=since, day__lte=today).aggregate(
        v=_metric_expression(policy.metric)
    )["v"]
    return Decimal(value)


def tier_for_value(value: Decimal, tiers: list[Tier]) -> Tier | None:
    reached = [t for t in tiers if t.threshold <= value]
    return max(reached, key=lambda t: t.rank) if reached else None


def tier_validate_threshold(*, rank: int, threshold: Decimal, tier: Tier | None = None) -> None:
    """A tier's threshold lies strictly above every lower-ranked tier's and below every higher-ranked one's.

    Otherwise a member would reach the higher tier with less than the lower one needs (and never hold the
    lower one), which tier_for_value would answer by rank, not as HQ meant. Checked by the tier form; the
    database cannot compare rows, so two HQ admins saving tiers at the same moment are not refused.
    """
    others = Tier.objects.exclude(pk=tier.pk) if tier is not None and tier.pk is not None else Tier.objects.all()
    lower = others.filter(rank__lt=rank, threshold__gte=threshold).order_by("-threshold", "-rank").first()
    if lower is not None:
        raise field_error(
            "threshold",
            _("The threshold must be above that of “%(tier)s” (%(threshold)s), a lower-ranked tier."),
            "threshold_not_above_lower_tier",
            tier=lower.name,
            threshold=_plain(lower.threshold),
        )
    higher = others.filter(rank__gt=rank, threshold__lte=threshold).order_by("threshold", "rank").first()
    if higher is not None:
        raise field_error(
            "threshold",
            _("The threshold must be below that of “%(tier)s” (%(threshold)s), a higher-ranked tier."),
            "threshold_not_below_higher_tier",
            tier=higher.name,
            threshold=_plain(higher.threshold),
        )


def _plain(value: Decimal) -> str:
    """1000.00 → "1000", 12.50 → "12.5": a threshold as people write it."""
    return format(value.normalize(), "f")


def all_tiers() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


def tier_upgrade_after_sale(
    stats: MemberStats, *, sale: Sale, now: datetime, tiers: list[Tier] | None = None
) -> Tier | None:
    tiers = all_tiers() if tiers is None else tiers
    current = next((t for t in tiers if t.pk == stats.tier_id), None)
    if not tiers:
        return current
    policy = TierPolicy.current()
    target = tier_for_value(qualifying_value(stats.pk, policy=policy, as_of=now), tiers)
    current_rank = current.rank if current else -1
    if target is not None and target.rank > current_rank:
        TierChange.objects.create(
            member_id=stats.pk, from_tier=current, to_tier=target, reason=TierChange.Reason.UPGRADE, sale=sale
        )
        stats.tier, stats.tier_since = target, now
        stats.save(update_fields=["tier", "tier_since"])
        current = target
    return current


def tier_after_refund(stats: MemberStats, *, sale: Sale, now: datetime) -> Tier | None:
    """Undo an upgrade that the refunded sale (or a later one) bought, if it no longer holds."""
    upgrades = list(
        TierChange.objects.filter(
            member_id=stats.pk, reason=TierChange.Reason.UPGRADE, created_at__gte=sale.created_at
        ).order_by("created_at", "id")
    )
    if not upgrades or stats.tier is None:
        return stats.tier
    tiers = all_tiers()
    value = qualifying_value(stats.pk, policy=TierPolicy.current(), as_of=now)
    if stats.tier.threshold <= value:
        return stats.tier
    floor = upgrades[0].from_tier
    target = tier_for_value(value, tiers)
    if floor is not None and (target is None or target.rank < floor.rank):
        target = floor
    if target != stats.tier:
        TierChange.objects.create(
            member_id=stats.pk, from_tier=stats.tier, to_tier=target, reason=TierChange.Reason.REFUND, sale=sale
        )
        stats.tier, stats.tier_since = target, now
        stats.save(update_fields=["tier", "tier_since"])
    return stats.tier


@dataclass
class TierProgress:
    tier: Tier | None
    next_tier: Tier | None
    value: Decimal
    missing: Decimal

    @property
    def free_shipping(self) -> bool:
        """The tier's benefit that online channels apply (the back office and tills have no shipping)."""
        return bool(self.tier and self.tier.free_shipping)


def tier_progress(member_id: int, *, current: Tier | None) -> TierProgress:
    """'¥X more to reach 金卡'."""
    policy = TierPolicy.current()
    value = qualifying_value(member_id, policy=policy)
    if current is None:
        # Not bought yet: in the entry tier (threshold 0) already, as member_tier_progresses says.
        current = Tier.objects.filter(threshold=0).order_by("rank").first()
    rank = current.rank if current else -1
    next_tier = Tier.objects.filter(rank__gt=rank).order_by("rank").first()
    missing = max(Decimal(0), next_tier.threshold - value) if next_tier else Decimal(0)
    return TierProgress(tier=current, next_tier=next_tier, value=value, missing=missing)


def _values_by_member(
    member_ids: list[int], *, policy: TierPolicy, as_of: datetime, on: date | None = None
) -> dict[int, Decimal]:
    """Each member's qualifying value over the window ending today, or, with `on` (a later day), over the
    window as it will stand that day with what is recorded by today: the days before it have aged out."""
    today = timezone.localdate(as_of)
    since = (on or today) - timedelta(days=policy.window_days - 1)
    rows = (
        MemberDailySpend.objects.filter(member_id__in=member_ids, day__gte=since, day__lte=today)
        .values("member_id")
        .annotate(v=_metric_expression(policy.metric))
    )
    return {row["member_id"]: Decimal(row["v"]) for row in rows}


METRIC_COLUMNS = {Tier.Metric.SPEND: "spend", Tier.Metric.POINTS: "points_earned", Tier.Metric.VISITS: "visits"}


def tiers_evaluate(*, now: datetime | None = None, batch_size: int = 2000) -> dict[str, int]:
    """Downgrade members below their tier whose retention has passed. Safe to run twice at once:
    each change is a conditional UPDATE on the member's current tier, with its row count checked."""
    now = now or timezone.now()
    policy = TierPolicy.current()
    tiers = all_tiers()
    held_since = now - timedelta(days=policy.retention_days)
    candidates = MemberStats.objects.filter(tier__isnull=False, tier_since__lte=held_since).order_by("pk")
    changed = examined = 0
    last_pk = 0
    while True:
        batch = list(candidates.filter(pk__gt=last_pk).select_related("tier")[:batch_size])
        if not batch:
            break
        last_pk = batch[-1].pk
        values = _values_by_member([s.pk for s in batch], policy=policy, as_of=now)
        for stats in batch:
            examined += 1
            target = tier_for_value(values.get(stats.pk, Decimal(0)), tiers) or tiers[0]
            if target.rank >= stats.tier.rank:
                continue
            with transaction.atomic():
                updated = MemberStats.objects.filter(pk=stats.pk, tier_id=stats.tier_id).update(
                    tier=target, tier_since=now
                )
                if updated:
                    TierChange.objects.create(
                        member_id=stats.pk, from_tier=stats.tier, to_tier=target, reason=TierChange.Reason.EVALUATION
                    )
                    changed += 1
    return {"examined": examined, "downgraded": changed}


def tier_counts() -> dict[str, int]:
    return dict(MemberStats.objects.values_list("tier__name").annotate(n=Count("pk")).values_list("tier__name", "n"))
