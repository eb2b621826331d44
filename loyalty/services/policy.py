"""Dates and amounts of the points policy: expiry, pending, redemption value. Pure functions."""

import calendar
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.utils import timezone

from loyalty.models import LoyaltySettings

CENT = Decimal("0.01")


def as_replay(answer):
    """Mark what a service answers for a request id it has seen before (the API says 200, not 201).
    The service knows, inside its lock; a check before calling it could lose a race."""
    answer.replayed = True
    return answer


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_down(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def end_of_local_day(day: date) -> datetime:
    """Points "valid until day D" expire at the local midnight that ends D."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry_for(earned_at: datetime, policy: LoyaltySettings) -> datetime | None:
    """When points earned at `earned_at` expire.

    Rolling: the end of the same local day N months later. Annual: points earned in a clearing
    year stay until the clearing date of the following year (当年积分次年清零), e.g. with 12-31,
    points earned on 2026-03-05 expire at the end of 2027-12-31.
    """
    local_day = timezone.localtime(earned_at).date()
    if policy.expiry_policy == LoyaltySettings.ExpiryPolicy.NEVER:
        return None
    if policy.expiry_policy == LoyaltySettings.ExpiryPolicy.ROLLING:
        return end_of_local_day(add_months(local_day, policy.expiry_months))
    month, day = policy.annual_clearing_month, policy.annual_clearing_day

    def clearing(year: int) -> date:
        return date(year, month, min(day, calendar.monthrange(year, month)[1]))

    first = clearing(local_day.year)
    if first < local_day:
        first = clearing(local_day.year + 1)
    return end_of_local_day(clearing(first.year + 1))


def available_from(earned_at: datetime, policy: LoyaltySettings) -> datetime:
    if policy.pending_days == 0:
        return earned_at
    return end_of_local_day(timezone.localtime(earned_at).date() + timedelta(days=policy.pending_days - 1))


def refund_window_start(policy: LoyaltySettings, *, now: datetime | None = None) -> datetime:
    """Sales made at or after this moment are within the refund window: store staff may refund them
    (and the till lists them); older ones only HQ refunds."""
    return (now or timezone.now()) - timedelta(days=policy.refund_window_days)


def points_value(points: int, policy: LoyaltySettings) -> Decimal:
    """What `points` pay, in ¥, rounded down to the cent."""
    return money_down(Decimal(points) / policy.redeem_points_per_yuan)


def max_redeemable_points(*, due: Decimal, available: int, policy: LoyaltySettings) -> int:
    """The most points a sale may take: within the balance, the share cap and whole steps."""
    cap_value = money_down(due * policy.redeem_max_share)
    by_cap = int(cap_value * policy.redeem_points_per_yuan)
    best = min(available, by_cap)
    return best - best % policy.redeem_step
