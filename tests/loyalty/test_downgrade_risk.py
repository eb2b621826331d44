"""Tier downgrade risk (loyalty.selectors.members_at_downgrade_risk): read from the window as it will stand
on the evaluation day, so that the warning comes before the downgrade, not after it."""

from datetime import date
from decimal import Decimal

import pytest

from loyalty.models import MemberStats, Tier, TierPolicy
from loyalty.selectors import members_at_downgrade_risk
from loyalty.services import tiers_evaluate
from tests.factories import MemberFactory
from tests.factories.loyalty import TierFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2024, 3, 1))


@pytest.fixture
def gold(db):
    """普卡 from 0, 金卡 from ¥1,000 over 365 days, kept at least 365 days (the defaults)."""
    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0"))
    return TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000"))


def risks(**kwargs) -> dict[str, tuple]:
    return {r.stats.member.name: (r.drops_on, r.value, r.missing) for r in members_at_downgrade_risk(**kwargs)}


def test_a_member_whose_spend_ages_out_before_the_evaluation_is_at_risk_today(clock, sell, gold):
    # 金卡 since 2024-03-01; the spend that keeps it today was made on 2025-03-25 and leaves the
    # 365-day window on 2026-03-25, when the daily evaluation lowers the tier.
    slipping = MemberFactory(name="王芳")
    sell(slipping, "1200.00", cash="1200.00")
    clock.set(local(2025, 3, 25))
    sell(slipping, "1200.00", cash="1200.00")
    clock.set(local(2026, 3, 1))
    sell(slipping, "150.00", cash="150.00")
    clock.set(local(2026, 3, 15))
    assert MemberStats.objects.get(pk=slipping.pk).tier == gold

    assert risks(within_days=30) == {"王芳": (date(2026, 3, 25), Decimal("150.00"), Decimal("850.00"))}
    # Ten days ahead is the evaluation day itself; nine days ahead sees nothing yet.
    assert risks(within_days=10) == risks(within_days=30)
    assert risks(within_days=9) == {}
    # And the evaluation does what the warning said, on the day it said.
    clock.set(local(2026, 3, 24, 2, 30))
    assert tiers_evaluate()["downgraded"] == 0
    clock.set(local(2026, 3, 25, 2, 30))
    assert tiers_evaluate()["downgraded"] == 1


def test_a_member_whose_spend_stays_in_the_window_is_not_at_risk(clock, sell, gold):
    steady = MemberFactory(name="李娜")
    sell(steady, "1200.00", cash="1200.00")
    clock.set(local(2025, 12, 1))
    sell(steady, "1000.00", cash="1000.00")
    clock.set(local(2026, 3, 15))

    assert risks(within_days=60) == {}


def test_the_drop_waits_for_the_retention_even_when_the_spend_has_aged_out(clock, sell, gold):
    # 金卡 bought on 2025-03-20: that spend leaves the window on 2026-03-20, the day the year's
    # retention ends too; today the window still holds it all, yet the member is at risk.
    late = MemberFactory(name="张伟")
    clock.set(local(2025, 3, 20))
    sell(late, "1200.00", cash="1200.00")
    clock.set(local(2026, 3, 15))

    assert risks(within_days=30) == {"张伟": (date(2026, 3, 20), Decimal("0"), Decimal("1000"))}


def test_a_member_already_below_is_at_risk_from_today(clock, sell, gold):
    MemberStats.objects.create(member=MemberFactory(name="陈静"), tier=gold, tier_since=local(2020, 1, 1))
    clock.set(local(2026, 3, 15))

    assert risks(within_days=0) == {"陈静": (date(2026, 3, 15), Decimal("0"), Decimal("1000"))}


def test_visits_age_out_the_same_way(clock, sell, gold):
    TierPolicy.objects.update_or_create(pk=TierPolicy.current().pk, defaults={"metric": Tier.Metric.VISITS})
    Tier.objects.filter(pk=gold.pk).update(threshold=Decimal("3"))
    regular = MemberFactory(name="刘洋")
    for day in (1, 2, 3):
        clock.set(local(2025, 3, day))
        sell(regular, "10.00", cash="10.00")
    MemberStats.objects.filter(pk=regular.pk).update(tier_since=local(2024, 1, 1))
    clock.set(local(2026, 2, 20))

    # The visit of 2025-03-01 leaves the window on 2026-03-01: two visits are left then.
    assert risks(within_days=30) == {"刘洋": (date(2026, 3, 1), Decimal("2"), Decimal("1"))}
