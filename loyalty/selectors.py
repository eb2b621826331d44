"""Reads of the loyalty app: balances, ledgers, expiring points. Constant queries per call."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import (
    MemberDailySpend,
    MemberStats,
    PointsAccount,
    PointsEntry,
    PointsLot,
    RechargePackage,
    Refund,
    Sale,
    Tier,
    TierChange,
    TierPolicy,
    Wallet,
    WalletEntry,
)
from loyalty.services.birthday import birthday_key
from loyalty.services.earning import rule_for
from loyalty.services.tiers import METRIC_COLUMNS, TierProgress, _values_by_member, tier_progress
from members.models import Member


@dataclass
class PointsSummary:
    available: int
    pending: int
    debt: int
    expiring_soon: int
    expiring_at: datetime | None


def sale_revenue(prefix: str = ""):
    """What a sale's customer paid for the goods (money, stored value, points at their value) less what
    was refunded; `prefix` reaches the sale through a relation ("member__sales__"). Campaigns' ROI and
    the analytics dashboards count revenue with this one expression."""
    return ExpressionWrapper(
        F(f"{prefix}total_due") + F(f"{prefix}points_value") - F(f"{prefix}refunded_amount"),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def _expiring_soon(member_id: int, *, within_days: int) -> dict:
    """Points of the member's open lots expiring within `within_days`, and the first expiry: one query."""
    now = timezone.now()
    return PointsLot.objects.filter(
        member_id=member_id, remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days)
    ).aggregate(points=Sum("remaining"), first=Min("expires_at"))


def member_points_summary(member: Member, *, within_days: int = 30) -> PointsSummary:
    account = PointsAccount.objects.filter(pk=member.pk).first()
    soon = _expiring_soon(member.pk, within_days=within_days)
    return PointsSummary(
        available=account.available if account else 0,
        pending=account.pending if account else 0,
        debt=account.debt if account else 0,
        expiring_soon=soon["points"] or 0,
        expiring_at=soon["first"],
    )


def member_wallet_balance(member: Member) -> tuple[Decimal, Decimal]:
    wallet = Wallet.objects.filter(pk=member.pk).first()
    return (wallet.principal, wallet.bonus) if wallet else (Decimal("0.00"), Decimal("0.00"))


def member_tier_progress(member: Member) -> TierProgress:
    stats = MemberStats.objects.filter(pk=member.pk).select_related("tier").first()
    return tier_progress(member.pk, current=stats.tier if stats else None)


def ledger_for_member(member: Member) -> QuerySet[PointsEntry]:
    return PointsEntry.objects.filter(member_id=member.pk).select_related("store", "staff").order_by("-id")


def wallet_ledger_for_member(member: Member) -> QuerySet[WalletEntry]:
    return WalletEntry.objects.filter(member_id=member.pk).select_related("store").order_by("-id")


def sales_for_member(member: Member) -> QuerySet[Sale]:
    return Sale.objects.filter(member=member).select_related("store").order_by("-created_at", "-id")


def members_with_points_expiring(*, within_days: int, now: datetime | None = None) -> QuerySet:
    """(member_id, points, first_expiry) for members whose points expire within N days."""
    now = now or timezone.now()
    return (
        PointsLot.objects.filter(remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days))
        .values("member_id")
        .annotate(points=Sum("remaining"), first_expiry=Min("expires_at"))
        .order_by("first_expiry", "member_id")
    )


# Batch reads for the API's member summaries: a constant number of queries for any number of members.


def member_points_summaries(member_ids: list[int], *, within_days: int = 30) -> dict[int, PointsSummary]:
    accounts = {a.pk: a for a in PointsAccount.objects.filter(pk__in=member_ids)}
    now = timezone.now()
    soon = {
        row["member_id"]: row
        for row in PointsLot.objects.filter(
            member_id__in=member_ids,
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=within_days),
        )
        .values("member_id")
        .annotate(points=Sum("remaining"), first=Min("expires_at"))
        .order_by()
    }
    summaries = {}
    for member_id in member_ids:
        account = accounts.get(member_id)
        expiring = soon.get(member_id, {})
        summaries[member_id] = PointsSummary(
            available=account.available if account else 0,
            pending=account.pending if account else 0,
            debt=account.debt if account else 0,
            expiring_soon=expiring.get("points") or 0,
            expiring_at=expiring.get("first"),
        )
    return summaries


def member_wallet_balances(member_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    wallets = {w.pk: (w.principal, w.bonus) for w in Wallet.objects.filter(pk__in=member_ids)}
    return {member_id: wallets.get(member_id, (Decimal("0.00"), Decimal("0.00"))) for member_id in member_ids}


def member_tier_progresses(member_ids: list[int]) -> dict[int, TierProgress]:
    """Each member's tier and what is missing to the next one (as member_tier_progress, in bulk)."""
    current = {s.pk: s.tier for s in MemberStats.objects.filter(pk__in=member_ids).select_related("tier")}
    tiers = list(Tier.objects.order_by("rank"))
    values: dict[int, Decimal] = {}
    if tiers:
        values = _values_by_member(member_ids, policy=TierPolicy.current(), as_of=timezone.now())
    # A member who has not bought yet is in the entry tier (threshold 0) already; checkout records it
    # with their first sale.
    entry = tiers[0] if tiers and tiers[0].threshold == 0 else None
    progresses = {}
    for member_id in member_ids:
        tier = current.get(member_id) or entry
        rank = tier.rank if tier else -1
        next_tier = next((t for t in tiers if t.rank > rank), None)
        value = values.get(member_id, Decimal(0))
        missing = max(Decimal(0), next_tier.threshold - value) if next_tier else Decimal(0)
        progresses[member_id] = TierProgress(tier=tier, next_tier=next_tier, value=value, missing=missing)
    return progresses


# --- tier downgrade risk --------------------------------------------------------------------------

RISK_BATCH = 2000


@dataclass(frozen=True)
class DowngradeRisk:
    stats: MemberStats  # with its tier and its member
    drops_on: date  # the evaluation day the tier drops at, unless the member qualifies again before
    value: Decimal  # the qualifying value as it will stand that day, from what is recorded today
    missing: Decimal  # what the tier's threshold still needs by then


def members_at_downgrade_risk(*, as_of: datetime | None = None, within_days: int = 30) -> Iterator[DowngradeRisk]:
    """Members whose tier the daily evaluation will lower on a day within `within_days` (today included)
    unless they spend (or earn, or visit) more: the one reading of that risk, for the back office's list
    and the downgrade-warning automation. Two queries per 2,000 candidates, in member order.

    The evaluation of day D reads the window ending on D and lowers a member who has held the tier for
    the retention period: what was recorded before D − window + 1 no longer counts then. So the risk is
    read from the window as it will stand on the evaluation day, not as it stands today. With nothing
    added a value only falls as days age out, so a member is at risk when their retention ends by the
    horizon and their value at the horizon is below their tier's threshold; they drop on the first
    evaluation day on which both hold (by the day: a warning may come a day early, never late).
    """
    now = as_of or timezone.now()
    today = timezone.localdate(now)
    horizon = today + timedelta(days=within_days)
    policy = TierPolicy.current()
    window = timedelta(days=policy.window_days)
    retention = timedelta(days=policy.retention_days)
    column = METRIC_COLUMNS.get(policy.metric, "spend")
    candidates = (
        MemberStats.objects.filter(
            tier__isnull=False, tier__threshold__gt=0, tier_since__lte=now + timedelta(days=within_days) - retention
        )
        .select_related("tier", "member")
        .order_by("pk")
    )

    def at_risk(batch: list[MemberStats]) -> Iterator[DowngradeRisk]:
        at_horizon = _values_by_member([s.pk for s in batch], policy=policy, as_of=now, on=horizon)
        short = [s for s in batch if at_horizon.get(s.pk, Decimal(0)) < s.tier.threshold]
        if not short:
            return
        recorded: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
        rows = (
            MemberDailySpend.objects.filter(member_id__in=[s.pk for s in short], day__gt=today - window, day__lte=today)
            .order_by("member_id", "-day")
            .values_list("member_id", "day", column)
        )
        for member_id, day, value in rows:
            recorded[member_id].append((day, Decimal(value)))
        for stats in short:
            threshold = stats.tier.threshold
            drops_on = max(today, timezone.localdate(stats.tier_since + retention))
            total = Decimal(0)
            for day, value in recorded[stats.pk]:  # latest first
                total += value
                if total >= threshold:
                    # What was recorded from `day` on keeps the tier while `day` is in the window.
                    drops_on = max(drops_on, day + window)
                    break
            if drops_on > horizon:
                continue
            value = sum((v for day, v in recorded[stats.pk] if day > drops_on - window), Decimal(0))
            yield DowngradeRisk(stats=stats, drops_on=drops_on, value=value, missing=threshold - value)

    batch: list[MemberStats] = []
    for stats in candidates.iterator(chunk_size=RISK_BATCH):
        batch.append(stats)
        if len(batch) == RISK_BATCH:
            yield from at_risk(batch)
            batch = []
    if batch:
        yield from at_risk(batch)


@dataclass
class StoredValue:
    principal: Decimal
    bonus: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.bonus


@dataclass
class Balances:
    available: int
    pending: int
    debt: int
    stored_value: StoredValue


def member_balances(member_id: int) -> Balances:
    """Points and stored value as they stand now (one query; a member without an account has zeros)."""
    row = (
        Member.objects.filter(pk=member_id)
        .values(
            "points_account__available",
            "points_account__pending",
            "points_account__debt",
            "wallet__principal",
            "wallet__bonus",
        )
        .first()
        or {}
    )
    return Balances(
        available=row.get("points_account__available") or 0,
        pending=row.get("points_account__pending") or 0,
        debt=row.get("points_account__debt") or 0,
        stored_value=StoredValue(
            principal=row.get("wallet__principal") or Decimal("0.00"),
            bonus=row.get("wallet__bonus") or Decimal("0.00"),
        ),
    )


def recharge_package(package_id: int) -> RechargePackage | None:
    return RechargePackage.objects.filter(pk=package_id).first()


def recharge_packages_on_offer() -> QuerySet[RechargePackage]:
    return RechargePackage.objects.filter(is_active=True).order_by("pay_amount")


def sale_by_id(sale_id: int) -> Sale | None:
    return Sale.objects.filter(pk=sale_id).select_related("store", "member").first()


# --- the store tablet ----------------------------------------------------------------------------


def store_recent_sales(*, store_id: int, since: datetime, search: str = "") -> QuerySet[Sale]:
    """A store's sales made since `since`, newest first, for the till's refund list; `search` is a sale
    number or the member's code."""
    sales = Sale.objects.filter(store_id=store_id, created_at__gte=since).select_related("member", "cashier")
    search = search.strip()
    if search.isdigit():
        sales = sales.filter(pk=int(search))
    elif search:
        sales = sales.filter(member__code=search)
    return sales.order_by("-created_at", "-id")


def sale_for_receipt(sale_id: int) -> Sale | None:
    return (
        Sale.objects.filter(pk=sale_id)
        .select_related("store", "member", "cashier")
        .prefetch_related("lines", "tenders", "refunds")
        .first()
    )


def member_day_notes(member: Member, *, store_id: int, day) -> list[str]:
    """What today means for this member at this store: birthday, birthday month (and its birthday points,
    once paid), member day."""
    notes = []
    birthday = member.birthday
    if birthday is not None and (birthday.month, birthday.day) == (day.month, day.day):
        notes.append(_("Birthday today! Wish them a happy birthday."))
    if birthday is not None and birthday.month == day.month:
        paid = (
            PointsEntry.objects.filter(member_id=member.pk, idempotency_key=birthday_key(day.year))
            .values_list("points", "created_at")
            .first()
        )
        if paid is not None:
            notes.append(
                _("Birthday points: %(points)s paid on %(day)s.")
                % {"points": paid[0], "day": timezone.localdate(paid[1]).isoformat()}
            )
    rule = rule_for(store_id=store_id, day=day)
    if rule is not None:
        if birthday is not None and birthday.month == day.month and rule.birthday_month_multiplier != 1:
            notes.append(
                _("Birthday month: points ×%(multiplier)s on today's purchases.")
                % {"multiplier": rule.birthday_month_multiplier.normalize()}
            )
        if rule.member_day_weekday == day.weekday() and rule.member_day_multiplier != 1:
            notes.append(
                _("Member day: points ×%(multiplier)s today.") % {"multiplier": rule.member_day_multiplier.normalize()}
            )
    return notes


def sales_to_review(*, store_ids: list[int] | None) -> QuerySet[Sale]:
    """Offline sales waiting for a manager, newest first; `store_ids` None for the whole chain."""
    sales = Sale.objects.filter(review_state=Sale.ReviewState.PENDING).select_related("member", "store", "cashier")
    if store_ids is not None:
        sales = sales.filter(store_id__in=store_ids)
    return sales.order_by("-created_at", "-id")


def sales_to_review_count(store_ids: list[int] | None) -> int:
    return sales_to_review(store_ids=store_ids).order_by().count()


@dataclass(frozen=True)
class StoreDayFigures:
    day: date
    sales_count: int
    sales_amount: Decimal
    points_value: Decimal
    refunds_count: int
    refunds_amount: Decimal
    members_registered: int
    points_issued: int
    points_redeemed: int
    stored_value_topped_up: Decimal
    stored_value_bonus_given: Decimal


# Points that come back (a refund's restore, a cancelled mall order) or move (unlock) are not issued;
# the analytics dashboards count points issued the same way.
POINTS_NOT_ISSUED = (PointsEntry.Kind.RESTORE, PointsEntry.Kind.MALL_REFUND, PointsEntry.Kind.UNLOCK)


def store_day_figures(*, store, day: date) -> StoreDayFigures:
    """One store's business day (local midnight to midnight, Asia/Shanghai): five queries."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    within = {"created_at__gte": start, "created_at__lt": end}
    zero = Decimal("0.00")
    sales = Sale.objects.filter(store=store, **within).aggregate(
        count=Count("id"), amount=Sum("total_due"), points=Sum("points_value")
    )
    refunds = Refund.objects.filter(store=store, **within).aggregate(count=Count("id"), amount=Sum("amount"))
    registered = Member.objects.filter(
        registration_store=store, registered_at__gte=start, registered_at__lt=end
    ).count()
    points = PointsEntry.objects.filter(store=store, **within).aggregate(
        issued=Sum("points", filter=Q(points__gt=0) & ~Q(kind__in=POINTS_NOT_ISSUED)),
        redeemed=Sum("points", filter=Q(kind__in=[PointsEntry.Kind.REDEEM, PointsEntry.Kind.MALL])),
    )
    top_ups = WalletEntry.objects.filter(store=store, kind=WalletEntry.Kind.TOP_UP, **within).aggregate(
        principal=Sum("principal"), bonus=Sum("bonus")
    )
    return StoreDayFigures(
        day=day,
        sales_count=sales["count"],
        sales_amount=sales["amount"] or zero,
        points_value=sales["points"] or zero,
        refunds_count=refunds["count"],
        refunds_amount=refunds["amount"] or zero,
        members_registered=registered,
        points_issued=points["issued"] or 0,
        points_redeemed=-(points["redeemed"] or 0),
        stored_value_topped_up=top_ups["principal"] or zero,
        stored_value_bonus_given=top_ups["bonus"] or zero,
    )


# --- the member's 360 page (members.member360 sections registered by loyalty.member360) -------------


@dataclass
class Member360Points:
    account: PointsAccount | None
    expiring_soon: int
    expiring_at: datetime | None
    entries: list[PointsEntry]


def member_360_points(member: Member, *, limit: int, within_days: int = 30) -> Member360Points:
    """The points account, what expires soon and the latest ledger entries: three queries."""
    soon = _expiring_soon(member.pk, within_days=within_days)
    return Member360Points(
        account=PointsAccount.objects.filter(pk=member.pk).first(),
        expiring_soon=soon["points"] or 0,
        expiring_at=soon["first"],
        entries=list(ledger_for_member(member)[:limit]),
    )


@dataclass
class Member360Tier:
    stats: MemberStats | None
    progress: TierProgress
    changes: list[TierChange]


def member_360_tier(member: Member, *, limit: int) -> Member360Tier:
    """The tier, the way to the next one and the latest tier changes: at most six queries."""
    stats = MemberStats.objects.filter(pk=member.pk).select_related("tier").first()
    changes = (
        TierChange.objects.filter(member_id=member.pk)
        .select_related("from_tier", "to_tier")
        .order_by("-created_at", "-id")[:limit]
    )
    return Member360Tier(
        stats=stats, progress=tier_progress(member.pk, current=stats.tier if stats else None), changes=list(changes)
    )


def member_360_wallet(member: Member, *, limit: int) -> tuple[Wallet | None, list[WalletEntry]]:
    entries = wallet_ledger_for_member(member).select_related("topup__package")[:limit]
    return Wallet.objects.filter(pk=member.pk).first(), list(entries)


def member_360_purchases(member: Member, *, limit: int) -> tuple[MemberStats | None, list[Sale]]:
    stats = MemberStats.objects.filter(pk=member.pk).first()
    return stats, list(sales_for_member(member)[:limit])


def purchase_counts(member_ids: list[int]) -> dict[int, int]:
    return dict(MemberStats.objects.filter(pk__in=member_ids).values_list("member_id", "purchase_count"))


def referred_buyers_count(member: Member) -> int:
    """How many of the members `member` referred have bought at least once."""
    return MemberStats.objects.filter(member__referrer_id=member.pk, purchase_count__gt=0).count()
