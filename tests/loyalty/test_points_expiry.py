"""Points expiry (rolling, annual clearing, never), the expiry and unlock jobs, and pending points."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from loyalty.models import LoyaltySettings, PointsAccount, PointsAllocation, PointsEntry, PointsLot
from loyalty.reconcile import ledger_mismatches
from loyalty.services import points_adjust, points_expire_due, points_unlock_due, sale_refund
from loyalty.services.policy import expiry_for
from tests.loyalty.clock import Clock, local
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db

Policy = LoyaltySettings.ExpiryPolicy


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 1, 10))


def account_of(member) -> PointsAccount:
    return PointsAccount.objects.get(pk=member.pk)


def lot_of(sale) -> PointsLot:
    return PointsLot.objects.get(entry__sale=sale, entry__kind=PointsEntry.Kind.EARN)


def error_code(excinfo) -> str:
    return next(iter(excinfo.value.error_dict.values()))[0].code


# Policy: when do points earned at a moment expire?


@pytest.mark.parametrize(
    ("earned_at", "months", "expires_at"),
    [
        # The end of the same local day N months later: valid through 2027-03-15.
        (local(2026, 3, 15, 10, 0), 12, local(2027, 3, 16, 0, 0)),
        # Month ends are clamped: one month after 31 January is the last day of February.
        (local(2026, 1, 31, 20, 0), 1, local(2026, 3, 1, 0, 0)),
        # 17:00 UTC is already 01:00 the next day in Shanghai: the local day counts.
        (datetime(2026, 3, 15, 17, 0, tzinfo=UTC), 12, local(2027, 3, 17, 0, 0)),
    ],
)
def test_rolling_points_expire_at_the_end_of_the_local_day_n_months_later(earned_at, months, expires_at):
    policy = LoyaltySettings(expiry_policy=Policy.ROLLING, expiry_months=months)
    assert expiry_for(earned_at, policy) == expires_at


@pytest.mark.parametrize(
    ("earned_at", "clearing", "expires_at"),
    [
        # 当年积分次年清零: points earned in 2026 are cleared at the end of 2027.
        (local(2026, 3, 5), (12, 31), local(2028, 1, 1, 0, 0)),
        (local(2026, 12, 31, 23, 59), (12, 31), local(2028, 1, 1, 0, 0)),
        # New Year's Eve 16:30 UTC is already 2027 in Shanghai: cleared at the end of 2028.
        (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), (12, 31), local(2029, 1, 1, 0, 0)),
        # A mid-year clearing date: the year 2026-07-01 … 2027-06-30 is cleared on 2028-06-30.
        (local(2026, 7, 1), (6, 30), local(2028, 7, 1, 0, 0)),
        (local(2026, 6, 30), (6, 30), local(2027, 7, 1, 0, 0)),
    ],
)
def test_annual_clearing_keeps_a_years_points_until_the_clearing_date_of_the_next_year(earned_at, clearing, expires_at):
    policy = LoyaltySettings(
        expiry_policy=Policy.ANNUAL, annual_clearing_month=clearing[0], annual_clearing_day=clearing[1]
    )
    assert expiry_for(earned_at, policy) == expires_at


def test_points_never_expire_under_the_never_policy(clock, member, sell, policy):
    # Given a chain whose points never expire
    policy.expiry_policy = Policy.NEVER
    policy.save()
    # When a member earns points and fifty years pass
    sale = sell(member, "100.00", cash="100.00")
    clock.advance(days=365 * 50)
    summary = points_expire_due()
    # Then nothing expires
    assert lot_of(sale).expires_at is None
    assert summary["entries"] == 0
    assert account_of(member).available == 100


def test_a_sales_lot_carries_the_expiry_of_the_policy(clock, member, sell, policy):
    clock.set(local(2026, 3, 15, 10, 0))
    sale = sell(member, "100.00", cash="100.00")
    assert lot_of(sale).expires_at == local(2027, 3, 16, 0, 0)

    policy.expiry_policy = Policy.ANNUAL
    policy.save()
    sale = sell(member, "100.00", cash="100.00")
    assert lot_of(sale).expires_at == local(2028, 1, 1, 0, 0)


# The expiry job


def test_the_expiry_job_expires_only_the_lots_that_are_due(clock, member, sell):
    # Given points earned on 10 January and on 10 March
    january = sell(member, "100.00", cash="100.00")
    clock.set(local(2026, 3, 10))
    march = sell(member, "200.00", cash="200.00")
    # When the job runs just after the January points' last day, a year later
    clock.set(local(2027, 1, 11, 0, 5))
    summary = points_expire_due()
    # Then only January's points expire
    assert summary == {"members": 1, "entries": 1, "points": 100}
    assert (lot_of(january).remaining, lot_of(march).remaining) == (0, 200)
    assert account_of(member).available == 200
    expiry = PointsEntry.objects.get(member_id=member.pk, kind=PointsEntry.Kind.EXPIRE)
    assert expiry.points == -100
    assert ledger_mismatches() == []


def test_points_are_still_valid_on_their_last_day(clock, member, sell):
    sell(member, "100.00", cash="100.00")
    clock.set(local(2027, 1, 10, 23, 59))
    assert points_expire_due()["entries"] == 0
    assert account_of(member).available == 100


def test_running_the_expiry_job_twice_expires_once(clock, member, sell):
    sell(member, "100.00", cash="100.00")
    points_adjust(request_id=rid(), member=member, points=-30, reason="兑换礼品", actor=_hq(member))
    clock.set(local(2027, 2, 1))
    first = points_expire_due()
    second = points_expire_due()
    assert first["points"] == 70
    assert second == {"members": 0, "entries": 0, "points": 0}
    assert PointsEntry.objects.filter(member_id=member.pk, kind=PointsEntry.Kind.EXPIRE).count() == 1
    assert account_of(member).available == 0
    assert ledger_mismatches() == []


def _hq(member):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="hq_admin")


# Redemptions and expiry


def test_redemptions_take_the_soonest_expiring_points_first(clock, chain, member, sell):
    # Given 100 points from January and 300 from March
    january = sell(member, "100.00", cash="100.00")
    clock.set(local(2026, 3, 10))
    march = sell(member, "300.00", cash="300.00")
    # When the member spends 150
    entry = points_adjust(request_id=rid(), member=member, points=-150, reason="兑换礼品", actor=chain.hq_admin)
    # Then January's 100 go first and 50 come from March
    assert (lot_of(january).remaining, lot_of(march).remaining) == (0, 250)
    taken = dict(PointsAllocation.objects.filter(entry=entry).values_list("lot_id", "points"))
    assert taken == {lot_of(january).pk: -100, lot_of(march).pk: -50}


def test_points_that_never_expire_are_spent_after_points_that_do(clock, chain, member, sell, policy):
    # Given 100 points earned while points never expired, then 100 under a rolling expiry
    policy.expiry_policy = Policy.NEVER
    policy.save()
    forever = sell(member, "100.00", cash="100.00")
    policy.expiry_policy = Policy.ROLLING
    policy.save()
    clock.advance(days=1)
    expiring = sell(member, "100.00", cash="100.00")
    # When the member spends 100
    points_adjust(request_id=rid(), member=member, points=-100, reason="兑换礼品", actor=chain.hq_admin)
    # Then the points that would expire are the ones spent, on every database
    assert (lot_of(expiring).remaining, lot_of(forever).remaining) == (0, 100)


def test_expired_points_cannot_be_redeemed_even_before_the_job_sweeps_them(clock, chain, member, sell):
    # Given 300 points that expired last night, not yet swept by the job
    sell(member, "300.00", cash="300.00")
    clock.set(local(2027, 1, 11, 0, 1))
    assert account_of(member).available == 300
    # When the member tries to pay with them, at the till or by an adjustment
    with pytest.raises(ValidationError) as at_till:
        sell(member, "10.00", points=200, cash="8.00")
    with pytest.raises(ValidationError) as by_adjustment:
        points_adjust(request_id=rid(), member=member, points=-100, reason="兑换", actor=chain.hq_admin)
    # Then both are refused and nothing moved
    assert error_code(at_till) == error_code(by_adjustment) == "insufficient_points"
    assert not PointsEntry.objects.filter(member_id=member.pk, kind=PointsEntry.Kind.REDEEM).exists()
    # And once the job has run the balance says so too
    points_expire_due()
    assert account_of(member).available == 0
    with pytest.raises(ValidationError) as after_job:
        sell(member, "10.00", points=100, cash="9.00")
    assert error_code(after_job) == "insufficient_points"
    assert ledger_mismatches() == []


def test_a_refund_restoring_points_to_an_expired_lot_expires_them_again(clock, chain, member, sell):
    # Given 200 points from January, 100 of them spent in November
    january = sell(member, "200.00", cash="200.00")
    clock.set(local(2026, 11, 1))
    spent = sell(member, "10.00", points=100, cash="9.00")
    # And the rest of January's points expired
    clock.set(local(2027, 1, 12))
    assert points_expire_due()["points"] == 100
    # When the November sale is refunded (by HQ: it is past the refund window)
    refund = sale_refund(request_id=rid(), sale=spent, actor=chain.hq_admin, reason="退货", amount=Decimal("10.00"))
    # Then the 100 points go back to the January lot they came from, which has expired: they expire again at once
    assert refund.points_restored == 100
    assert lot_of(january).remaining == 0
    expiries = PointsEntry.objects.filter(member_id=member.pk, kind=PointsEntry.Kind.EXPIRE).order_by("id")
    assert [e.points for e in expiries] == [-100, -100]
    account = account_of(member)
    assert (account.available, account.debt) == (0, 0)
    assert points_expire_due()["entries"] == 0
    assert ledger_mismatches() == []


def test_a_refund_takes_back_the_sales_own_expired_points_before_the_job_does(clock, chain, member, sell):
    # Given a sale's 100 points that expired last night and were not swept yet, and 50 other points
    sale = sell(member, "100.00", cash="100.00")
    clock.set(local(2026, 6, 1))
    sell(member, "50.00", cash="50.00")
    clock.set(local(2027, 1, 11, 0, 1))
    # When the sale is refunded (by HQ: it is past the refund window)
    refund = sale_refund(request_id=rid(), sale=sale, actor=chain.hq_admin, reason="退货", amount=Decimal("100.00"))
    # Then its own points are taken back: the other 50 stay and no debt is made
    assert (refund.points_clawed_back, refund.debt_created) == (100, 0)
    account = account_of(member)
    assert (account.available, account.debt) == (50, 0)
    # And the job finds nothing left to expire
    assert points_expire_due()["points"] == 0
    assert ledger_mismatches() == []


# Pending points


def test_pending_points_cannot_be_spent_until_the_unlock_job_has_run(clock, chain, member, sell, policy):
    # Given a 7-day return window
    policy.pending_days = 7
    policy.save()
    clock.set(local(2026, 5, 1, 15, 0))
    sale = sell(member, "300.00", cash="300.00")
    account = account_of(member)
    assert (account.available, account.pending) == (0, 300)
    assert lot_of(sale).available_at == local(2026, 5, 8, 0, 0)
    # When the member tries to spend them during the window
    with pytest.raises(ValidationError) as excinfo:
        sell(member, "10.00", points=100, cash="9.00")
    # Then they are refused
    assert error_code(excinfo) == "insufficient_points"
    # And the unlock job leaves them pending until the window has passed
    clock.set(local(2026, 5, 7, 23, 59))
    assert points_unlock_due() == {"lots": 0}
    clock.set(local(2026, 5, 8, 0, 10))
    assert points_unlock_due() == {"lots": 1}
    assert points_unlock_due() == {"lots": 0}
    account = account_of(member)
    assert (account.available, account.pending) == (300, 0)
    assert PointsEntry.objects.filter(member_id=member.pk, kind=PointsEntry.Kind.UNLOCK).count() == 1
    # Then they can be spent
    sell(member, "10.00", points=100, cash="9.00")
    account = account_of(member)
    # 300 − 100 spent; the 9 this sale earned wait out their own window
    assert (account.available, account.pending) == (200, 9)
    assert ledger_mismatches() == []
