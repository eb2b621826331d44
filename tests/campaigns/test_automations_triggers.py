"""Who each scheduled trigger finds, who it does not, at its boundaries (and 29 February)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from campaigns.churn import register_churn_source, unregister_churn_sources
from campaigns.models import Automation, AutomationEffect
from campaigns.services.automations import automation_run
from loyalty.models import PointsLot
from members.services import member_set_status
from tests.campaigns.conftest import line
from tests.factories import MemberFactory
from tests.factories.campaigns import AutomationFactory
from tests.factories.loyalty import TierFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db

Trigger = Automation.Trigger


def reached(automation) -> dict[str, str]:
    """{member name: occurrence} of the automation's effects."""
    return dict(AutomationEffect.objects.filter(automation=automation).values_list("member__name", "occurrence"))


@pytest.fixture
def churn_source():
    rows: list[tuple[int, str]] = []

    def source(*, now, member_ids=None):
        return [r for r in rows if member_ids is None or r[0] in member_ids]

    register_churn_source(source)
    yield rows
    unregister_churn_sources()


# Birthday


def test_birthday_finds_members_whose_birthday_is_within_n_days_and_not_later_or_past(clock, policy):
    clock.set(local(2026, 3, 15, 10))
    MemberFactory(name="今天", birthday=date(1990, 3, 15))
    MemberFactory(name="七天后", birthday=date(1988, 3, 22))
    MemberFactory(name="八天后", birthday=date(1988, 3, 23))
    MemberFactory(name="昨天", birthday=date(1995, 3, 14))
    MemberFactory(name="没填生日")
    automation = AutomationFactory(trigger=Trigger.BIRTHDAY, days=7)

    result = automation_run(automation, now=clock.now)

    assert reached(automation) == {"今天": "birthday:2026", "七天后": "birthday:2026"}
    assert result.reached == 2


def test_a_birthday_early_in_january_is_found_in_late_december_as_next_years(clock, policy):
    MemberFactory(name="元旦", birthday=date(1990, 1, 2))
    automation = AutomationFactory(trigger=Trigger.BIRTHDAY, days=7)

    automation_run(automation, now=local(2026, 12, 28, 10))

    assert reached(automation) == {"元旦": "birthday:2027"}


def test_a_29_february_birthday_is_celebrated_on_the_28th_in_a_year_without_it(clock, policy):
    MemberFactory(name="闰日", birthday=date(1992, 2, 29))
    automation = AutomationFactory(trigger=Trigger.BIRTHDAY, days=0)

    automation_run(automation, now=local(2027, 2, 27, 10))
    assert reached(automation) == {}
    automation_run(automation, now=local(2027, 2, 28, 10))
    assert reached(automation) == {"闰日": "birthday:2027"}


def test_a_29_february_birthday_is_on_the_29th_in_a_leap_year(clock, policy):
    MemberFactory(name="闰日", birthday=date(1992, 2, 29))
    automation = AutomationFactory(trigger=Trigger.BIRTHDAY, days=0)

    automation_run(automation, now=local(2028, 2, 28, 10))
    assert reached(automation) == {}
    automation_run(automation, now=local(2028, 2, 29, 10))
    assert reached(automation) == {"闰日": "birthday:2028"}


def test_frozen_members_are_never_found(clock, policy, chain):
    member = MemberFactory(name="冻结", birthday=date(1990, 3, 16))
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="风控")
    automation = AutomationFactory(trigger=Trigger.BIRTHDAY, days=7)

    automation_run(automation, now=clock.now)

    assert reached(automation) == {}


# Dormant


def test_dormant_finds_members_whose_last_purchase_is_n_days_old_and_not_newer_or_never(clock, checkout, policy):
    buyers = {name: MemberFactory(name=name) for name in ("三十天", "二十九天", "从未购买")}
    clock.set(local(2026, 2, 13, 12))
    checkout(buyers["三十天"], [line("饮品", 50)], cash=50)
    clock.set(local(2026, 2, 14, 12))
    checkout(buyers["二十九天"], [line("饮品", 50)], cash=50)
    clock.set(local(2026, 3, 15, 12))
    automation = AutomationFactory(trigger=Trigger.DORMANT, days=30)

    automation_run(automation, now=clock.now)

    assert reached(automation) == {"三十天": "dormant:2026-02-13"}


def test_a_member_who_buys_and_lapses_again_is_reached_again(clock, checkout, policy):
    member = MemberFactory(name="回头客")
    automation = AutomationFactory(trigger=Trigger.DORMANT, days=30, cap_days=1)
    clock.set(local(2026, 1, 1, 12))
    checkout(member, [line("饮品", 50)], cash=50)
    automation_run(automation, now=clock.set(local(2026, 2, 5, 12)))
    automation_run(automation, now=clock.set(local(2026, 2, 6, 12)))
    checkout(member, [line("饮品", 50)], cash=50)

    automation_run(automation, now=clock.set(local(2026, 3, 10, 12)))

    occurrences = sorted(AutomationEffect.objects.filter(automation=automation).values_list("occurrence", flat=True))
    assert occurrences == ["dormant:2026-01-01", "dormant:2026-02-06"]


# Points expiring


def test_points_expiring_finds_members_with_points_left_in_a_lot_expiring_within_n_days(clock, policy, give_points):
    soon, later, spent = (MemberFactory(name=n) for n in ("七天内", "八天后", "已用完"))
    for member in (soon, later, spent):
        give_points(member, 100)
    PointsLot.objects.filter(member=soon).update(expires_at=clock.now + timedelta(days=7))
    PointsLot.objects.filter(member=later).update(expires_at=clock.now + timedelta(days=8))
    PointsLot.objects.filter(member=spent).update(expires_at=clock.now + timedelta(days=3), remaining=0)
    automation = AutomationFactory(trigger=Trigger.POINTS_EXPIRING, days=7)

    automation_run(automation, now=clock.now)

    assert reached(automation) == {"七天内": "points_expiring:2026-03-22"}


# Tier downgrade risk


@pytest.fixture
def gold_since_last_year(clock, checkout, policy):
    """金卡 from ¥1,000; 王芳 bought ¥1,200 on 2025-03-10 (gold since), 李娜 also ¥1,200 on 2026-03-01."""
    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00"))
    TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00"))
    slipping, renewed = MemberFactory(name="王芳"), MemberFactory(name="李娜")
    clock.set(local(2025, 3, 10, 12))
    checkout(slipping, [line("服装", 1200)], cash=1200)
    checkout(renewed, [line("服装", 1200)], cash=1200)
    clock.set(local(2026, 3, 1, 12))
    checkout(renewed, [line("服装", 1200)], cash=1200)
    clock.set(local(2026, 3, 15, 12))
    return slipping, renewed


def test_downgrade_risk_finds_members_whose_tier_drops_at_the_next_evaluation_unless_they_spend(
    gold_since_last_year, clock
):
    automation = AutomationFactory(trigger=Trigger.DOWNGRADE_RISK, days=7)

    automation_run(automation, now=clock.now)

    [occurrence] = reached(automation).values()
    assert reached(automation).keys() == {"王芳"}
    assert occurrence.startswith("downgrade:") and occurrence.endswith(":2025-03-10")


def test_downgrade_risk_does_not_find_a_member_whose_evaluation_is_further_than_n_days(clock, checkout, policy):
    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00"))
    TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00"))
    member = MemberFactory(name="新金卡")
    clock.set(local(2026, 3, 1, 12))
    checkout(member, [line("服装", 1200)], cash=1200)
    automation = AutomationFactory(trigger=Trigger.DOWNGRADE_RISK, days=30)

    automation_run(automation, now=clock.set(local(2026, 3, 15, 12)))

    assert reached(automation) == {}


def test_downgrade_risk_warns_a_member_whose_spend_ages_out_before_the_evaluation(clock, checkout, policy):
    """金卡 held since 2025-01-05; what keeps it was bought on 2025-04-01 and leaves the window on
    2026-04-01: the warning goes out 30 days before, while the window still holds that spend."""
    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00"))
    TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00"))
    slipping, steady = MemberFactory(name="王芳"), MemberFactory(name="李娜")
    clock.set(local(2025, 1, 5, 12))
    checkout(slipping, [line("服装", 1200)], cash=1200)
    checkout(steady, [line("服装", 1200)], cash=1200)
    clock.set(local(2025, 4, 1, 12))
    checkout(slipping, [line("服装", 1200)], cash=1200)
    clock.set(local(2025, 12, 1, 12))
    checkout(steady, [line("服装", 1200)], cash=1200)
    automation = AutomationFactory(trigger=Trigger.DOWNGRADE_RISK, days=30)

    automation_run(automation, now=clock.set(local(2026, 3, 1, 12)))
    assert reached(automation) == {}
    automation_run(automation, now=clock.set(local(2026, 3, 2, 12)))

    assert reached(automation) == {"王芳": reached(automation)["王芳"]}
    assert reached(automation)["王芳"].endswith(":2025-01-05")


# Churn risk


def test_churn_risk_finds_the_members_the_churn_source_scores_with_their_reason(clock, policy, churn_source):
    price, inactive, fine = (MemberFactory(name=n) for n in ("价格敏感", "久未到店", "正常"))
    churn_source += [(price.pk, "price_sensitive"), (inactive.pk, "long_inactive"), (fine.pk, "not_a_reason")]
    automation = AutomationFactory(trigger=Trigger.CHURN_RISK, days=0)

    automation_run(automation, now=clock.now)

    effects = AutomationEffect.objects.filter(automation=automation)
    assert dict(effects.values_list("member__name", "reason")) == {
        "价格敏感": "price_sensitive",
        "久未到店": "long_inactive",
    }
    assert set(effects.values_list("occurrence", flat=True)) == {"churn:2026-03"}


def test_without_a_churn_source_the_churn_trigger_finds_nobody_and_says_why(clock, policy):
    unregister_churn_sources()
    MemberFactory()
    automation = AutomationFactory(trigger=Trigger.CHURN_RISK, days=0)

    result = automation_run(automation, now=clock.now)

    assert result.found == 0
    assert "churn source" in result.notice


# Chunks


def test_a_trigger_reads_its_members_in_chunks(clock, policy, monkeypatch):
    from campaigns.selectors import automations as selectors

    monkeypatch.setattr(selectors, "CHUNK_SIZE", 2)
    for name in ("甲", "乙", "丙", "丁", "戊"):
        MemberFactory(name=name, birthday=date(1990, 3, 16))
    automation = AutomationFactory(trigger=Trigger.BIRTHDAY, days=7)
    chunks = []

    result = automation_run(automation, now=clock.now, progress=lambda part: chunks.append(part.found))

    assert chunks == [2, 2, 1]
    assert result.reached == 5
