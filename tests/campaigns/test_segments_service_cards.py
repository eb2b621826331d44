"""Segment rules on service cards, for renewal offers: a card expiring soon, few uses left, no visit for a
while. Who is selected, exactly."""

from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns.segments import SegmentRuleError, members_matching, validate_rules
from servicecards.models import MemberCard
from tests.factories import MemberFactory
from tests.factories.servicecards import CardProductFactory, PeriodCardProductFactory, card_use_entry, member_card
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db
NOW = local(2026, 6, 1, 12)
D = Decimal


def days(n: int):
    return NOW + timedelta(days=n)


@pytest.fixture
def members(chain):
    """洗护卡 (10 uses) and 月卡 holders at store A, as of 2026-06-01 12:00:
    - 王芳: expires in 10 days, 5 left, last visit 40 days ago;
    - 李娜: expires in 60 days, 2 left, last visit 5 days ago;
    - 张伟: a 月卡 bought 25 days ago (expires in 5), never used;
    - 刘洋: expires in 5 days but used up;  陈静: frozen, expires in 3;  杨帆: expired 2 days ago with 4 left;
    - 赵敏: refunded, expires in 7, 10 left.
    """
    wash = CardProductFactory(code="WASH10")
    month = PeriodCardProductFactory(code="GYM1M")
    a = chain.store_a
    people = {n: MemberFactory(name=n) for n in ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵敏")}
    wang = member_card(people["王芳"], wash, a, purchased_at=days(-100), expires_at=days(10), uses_remaining=D(6))
    card_use_entry(wang, at=days(-40))
    li = member_card(people["李娜"], wash, a, purchased_at=days(-200), expires_at=days(60), uses_remaining=D(3))
    card_use_entry(li, at=days(-5))
    member_card(people["张伟"], month, a, purchased_at=days(-25))
    member_card(people["刘洋"], wash, a, purchased_at=days(-300), expires_at=days(5), uses_remaining=D(0))
    member_card(people["陈静"], wash, a, purchased_at=days(-30), expires_at=days(3), status=MemberCard.Status.FROZEN)
    member_card(people["杨帆"], wash, a, purchased_at=days(-365), expires_at=days(-2), uses_remaining=D(4))
    member_card(people["赵敏"], wash, a, purchased_at=days(-20), expires_at=days(7), status=MemberCard.Status.REFUNDED)
    return people


def names(rules) -> set[str]:
    return {m.name for m in members_matching(rules, now=NOW)}


def test_a_card_expiring_within_n_days_selects_holders_of_a_live_card_only(members):
    assert names([{"field": "card_expiring", "op": "between", "value": {"max": 14}}]) == {"王芳", "张伟"}
    assert names([{"field": "card_expiring", "op": "between", "value": {"min": 30, "max": 90}}]) == {"李娜"}


def test_m_uses_or_fewer_left_counts_live_count_cards_only(members):
    assert names([{"field": "card_uses_left", "op": "between", "value": {"max": 2}}]) == {"李娜"}
    assert names([{"field": "card_uses_left", "op": "between", "value": {"max": 5}}]) == {"王芳", "李娜"}


def test_no_visit_for_n_days_while_holding_a_card(members):
    assert names([{"field": "card_no_visit", "op": "between", "value": {"min": 30}}]) == {"王芳"}
    # 张伟 never used his 月卡, bought 25 days ago
    assert names([{"field": "card_no_visit", "op": "between", "value": {"min": 20}}]) == {"王芳", "张伟"}
    assert names([{"field": "card_no_visit", "op": "between", "value": {"min": 20, "max": 30}}]) == {"张伟"}


def test_a_renewal_offer_combines_the_rules(members):
    rules = [
        {"field": "card_expiring", "op": "between", "value": {"max": 30}},
        {"field": "card_no_visit", "op": "between", "value": {"min": 30}},
    ]
    assert names(rules) == {"王芳"}


def test_a_visit_reversed_is_no_visit(members, chain):
    li = MemberCard.objects.get(member=members["李娜"])
    last = li.entries.filter(kind="use").order_by("-created_at").first()
    from servicecards.models import CardEntry

    CardEntry.objects.create(
        card=li,
        member=li.member,
        kind=CardEntry.Kind.REVERSAL,
        uses=D(1),
        store=chain.store_a,
        recorded_by=chain.manager_a,
        reverses=last,
    )
    MemberCard.objects.filter(pk=li.pk).update(uses_remaining=D(3), uses_taken=D(7))

    # 李娜's last visit left is the one bought with the card's purchase, 200 days ago
    assert "李娜" in names([{"field": "card_no_visit", "op": "between", "value": {"min": 30}}])


def test_bad_values_are_refused_with_their_rule(members):
    with pytest.raises(SegmentRuleError):
        validate_rules([{"field": "card_expiring", "op": "between", "value": {"max": -1}}])
    with pytest.raises(SegmentRuleError):
        validate_rules([{"field": "card_no_visit", "op": "between", "value": {"min": 1.5}}])
    validate_rules([{"field": "card_uses_left", "op": "between", "value": {"max": "2.5"}}])


# The automation: "service card expiring within N days", the downgrade-style warning for cards


@pytest.fixture
def policy(db):
    from tests.factories.loyalty import LoyaltySettingsFactory

    return LoyaltySettingsFactory()


def test_the_card_expiring_automation_warns_holders_once_per_expiry(members, monkeypatch, policy):
    from campaigns.models import Automation, AutomationEffect
    from campaigns.services.automations import automation_run
    from tests.factories.campaigns import AutomationFactory
    from tests.loyalty.clock import Clock

    clock = Clock(monkeypatch, NOW)
    automation = AutomationFactory(trigger=Automation.Trigger.CARD_EXPIRING, days=7)

    automation_run(automation, now=clock.now)
    automation_run(automation, now=clock.now)

    reached = dict(AutomationEffect.objects.filter(automation=automation).values_list("member__name", "occurrence"))
    # 王芳's card expires in 10 days; 刘洋's is used up, 陈静's frozen, 赵敏's refunded
    assert reached == {"张伟": "card_expiring:2026-06-06"}
