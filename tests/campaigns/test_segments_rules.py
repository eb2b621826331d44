"""Segment rules field by field against a small chain: who is in, who is out, and the boundaries."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import Q
from django.utils import translation

from campaigns.segments import SegmentRuleError, members_matching, register_score_source, unregister_score_source
from loyalty.models import MemberStats, PointsAccount, PointsLot
from members.models import Member
from tests.factories import MemberFactory, TagFactory
from tests.loyalty.clock import local

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    # The messages below are the English msgids; the default language is Chinese.
    with translation.override("en"):
        yield


NOW = local(2026, 3, 15, 12, 0)


def shop(member, *, tier=None, last=None, visits=0, spend="0", points=None):
    MemberStats.objects.update_or_create(
        member=member,
        defaults={"tier": tier, "last_purchase_at": last, "purchase_count": visits, "total_spend": Decimal(spend)},
    )
    if points is not None:
        PointsAccount.objects.update_or_create(member=member, defaults={"available": points})
    return member


def names(rules, now=NOW) -> set[str]:
    return set(members_matching(rules, now=now).values_list("name", flat=True))


@pytest.fixture
def people(chain, policy, tiers):
    """王芳 gold at store A, 李娜 normal at store B, 张伟 with no purchase and no tier at store A."""
    wang = shop(
        MemberFactory(name="王芳", home_store=chain.store_a, birthday=date(1990, 3, 8)),
        tier=tiers["gold"],
        last=NOW - timedelta(days=10),
        visits=12,
        spend="1500.00",
        points=800,
    )
    li = shop(
        MemberFactory(name="李娜", home_store=chain.store_b, birthday=date(1985, 4, 1)),
        tier=tiers["normal"],
        last=NOW - timedelta(days=100),
        visits=2,
        spend="199.99",
        points=50,
    )
    zhang = MemberFactory(name="张伟", home_store=chain.store_a)
    return {"wang": wang, "li": li, "zhang": zhang}


def test_no_rules_select_every_active_member_and_never_a_frozen_one(people):
    Member.objects.filter(pk=people["zhang"].pk).update(status=Member.Status.FROZEN)

    assert names([]) == {"王芳", "李娜"}


def test_tier_selects_the_members_of_the_chosen_tiers(people, tiers):
    assert names([{"field": "tier", "op": "in", "value": [tiers["gold"].pk]}]) == {"王芳"}
    assert names([{"field": "tier", "value": [tiers["gold"].pk, tiers["normal"].pk]}]) == {"王芳", "李娜"}


def test_home_store_selects_the_members_of_the_chosen_stores(people, chain):
    assert names([{"field": "home_store", "op": "in", "value": [chain.store_a.pk]}]) == {"王芳", "张伟"}


def test_days_since_last_purchase_includes_both_ends_and_leaves_out_who_never_bought(people):
    rule = {"field": "days_since_purchase", "op": "between"}

    assert names([{**rule, "value": {"min": 10, "max": 100}}]) == {"王芳", "李娜"}
    assert names([{**rule, "value": {"min": 11}}]) == {"李娜"}
    assert names([{**rule, "value": {"max": 99}}]) == {"王芳"}


def test_spend_range_is_in_yuan_with_cents(people):
    rule = {"field": "spend", "op": "between"}

    assert names([{**rule, "value": {"min": "199.99"}}]) == {"王芳", "李娜"}
    assert names([{**rule, "value": {"min": "200"}}]) == {"王芳"}
    assert names([{**rule, "value": {"max": "199.98"}}]) == set()


def test_visits_range(people):
    assert names([{"field": "visits", "value": {"min": 2, "max": 2}}]) == {"李娜"}


def test_points_balance_range(people):
    assert names([{"field": "points", "value": {"min": 50, "max": 800}}]) == {"王芳", "李娜"}
    assert names([{"field": "points", "value": {"min": 51}}]) == {"王芳"}


def test_birthday_month(people):
    assert names([{"field": "birthday_month", "value": [3]}]) == {"王芳"}
    assert names([{"field": "birthday_month", "value": [3, 4]}]) == {"王芳", "李娜"}
    assert names([{"field": "birthday_month", "value": [12]}]) == set()


def test_registration_date_counts_whole_local_days(people):
    Member.objects.filter(pk=people["wang"].pk).update(registered_at=local(2026, 1, 31, 23, 59))
    Member.objects.filter(pk=people["li"].pk).update(registered_at=local(2026, 2, 1, 0, 0))
    Member.objects.filter(pk=people["zhang"].pk).update(registered_at=local(2026, 3, 1, 0, 0))

    assert names([{"field": "registered", "value": {"from": "2026-02-01", "to": "2026-02-28"}}]) == {"李娜"}
    assert names([{"field": "registered", "value": {"to": "2026-01-31"}}]) == {"王芳"}
    assert names([{"field": "registered", "value": {"from": "2026-02-01"}}]) == {"李娜", "张伟"}


def test_tags_any_all_and_none(people):
    vip, coffee = TagFactory(name="VIP"), TagFactory(name="咖啡控")
    people["wang"].tags.set([vip, coffee])
    people["li"].tags.set([coffee])

    assert names([{"field": "tags", "op": "any", "value": [vip.pk, coffee.pk]}]) == {"王芳", "李娜"}
    assert names([{"field": "tags", "op": "all", "value": [vip.pk, coffee.pk]}]) == {"王芳"}
    assert names([{"field": "tags", "op": "none", "value": [vip.pk]}]) == {"李娜", "张伟"}
    # A member with two of the tags is still one member.
    assert members_matching([{"field": "tags", "op": "any", "value": [vip.pk, coffee.pk]}]).count() == 2


def test_top_n_by_points_among_the_other_rules_breaks_ties_by_the_older_member(people, chain):
    newer = shop(MemberFactory(name="刘洋", home_store=chain.store_a), points=800)

    assert names([{"field": "top_points", "op": "top", "value": 1}]) == {"王芳"}
    assert names([{"field": "top_points", "value": 2}]) == {"王芳", "刘洋"}
    # 张伟 never earned (no points account): last, also on PostgreSQL where DESC puts NULL first.
    assert names([{"field": "top_points", "value": 3}]) == {"王芳", "刘洋", "李娜"}
    store_b_top = [{"field": "home_store", "value": [chain.store_b.pk]}, {"field": "top_points", "value": 5}]
    assert names(store_b_top) == {"李娜"}
    assert newer.pk > people["wang"].pk


def test_rules_together_must_all_hold(people, chain, tiers):
    rules = [
        {"field": "home_store", "value": [chain.store_a.pk]},
        {"field": "spend", "value": {"min": 1000}},
    ]
    assert names(rules) == {"王芳"}


# Points expiring within N days


@pytest.fixture
def expiring(people, give_points):
    """王芳: 300 points expiring in 7 days; 李娜: 40 in 30 days and 20 already spent of a lot in 3 days."""

    def lot(member, points, days, *, remaining=None):
        entry = give_points(member, points)
        PointsLot.objects.filter(entry=entry).update(
            expires_at=NOW + timedelta(days=days), remaining=points if remaining is None else remaining
        )

    lot(people["wang"], 300, 7)
    lot(people["li"], 40, 30)
    lot(people["li"], 20, 3, remaining=0)
    return people


def test_points_expiring_within_n_days_counts_only_open_lots_until_the_nth_day(expiring):
    rule = {"field": "points_expiring", "op": "within"}

    assert names([{**rule, "value": {"days": 7}}]) == {"王芳"}
    assert names([{**rule, "value": {"days": 6}}]) == set()
    assert names([{**rule, "value": {"days": 30}}]) == {"王芳", "李娜"}


def test_points_expiring_with_a_least_amount(expiring):
    rule = {"field": "points_expiring", "op": "within"}

    assert names([{**rule, "value": {"days": 30, "min_points": 300}}]) == {"王芳"}
    assert names([{**rule, "value": {"days": 30, "min_points": 301}}]) == set()
    assert names([{**rule, "value": {"days": 30, "min_points": 40}}]) == {"王芳", "李娜"}


def test_points_that_expired_already_are_not_expiring(expiring):
    later = NOW + timedelta(days=8)

    assert names([{"field": "points_expiring", "value": {"days": 30}}], now=later) == {"李娜"}


# RFM segment and churn risk (scored by analytics)


@pytest.fixture
def scores(people):
    """A fake analytics: 王芳 a champion with no churn risk, 李娜 at risk, high churn risk, price sensitive."""
    rfm = {people["wang"].pk: "champions", people["li"].pk: "at_risk"}
    churn = {people["li"].pk: ("high", "price_sensitive")}
    asked = []

    def rfm_source(*, segments, now):
        asked.append(("rfm", segments, now))
        return Q(pk__in=[pk for pk, code in rfm.items() if code in segments])

    def churn_source(*, levels, reasons, now):
        asked.append(("churn", levels, reasons))
        ids = [
            pk
            for pk, (level, reason) in churn.items()
            if (not levels or level in levels) and (not reasons or reason in reasons)
        ]
        return Member.objects.filter(pk__in=ids).values("pk")

    register_score_source("rfm_segment", rfm_source)
    register_score_source("churn_risk", churn_source)
    yield asked
    unregister_score_source("rfm_segment")
    unregister_score_source("churn_risk")


def test_rfm_segment_asks_the_registered_score_source(scores):
    assert names([{"field": "rfm_segment", "op": "in", "value": ["champions"]}]) == {"王芳"}
    assert names([{"field": "rfm_segment", "value": ["champions", "at_risk"]}]) == {"王芳", "李娜"}
    assert scores[0] == ("rfm", ["champions"], NOW)


def test_churn_risk_by_level_by_reason_or_both(scores):
    assert names([{"field": "churn_risk", "value": {"levels": ["high"]}}]) == {"李娜"}
    assert names([{"field": "churn_risk", "value": {"reasons": ["price_sensitive"]}}]) == {"李娜"}
    assert names([{"field": "churn_risk", "value": {"levels": ["high"], "reasons": ["long_inactive"]}}]) == set()


def test_without_a_score_source_the_rule_is_refused_rather_than_matching_nobody(people):
    with pytest.raises(SegmentRuleError) as refused:
        members_matching([{"field": "rfm_segment", "value": ["champions"]}])

    assert refused.value.errors == [(0, "Rule 1 (RFM segment): No scores yet: run score_members.")]


def test_a_source_that_has_scored_nothing_yet_is_refused_too(people):
    register_score_source("churn_risk", lambda **kw: None)
    try:
        with pytest.raises(SegmentRuleError, match="No scores yet"):
            members_matching([{"field": "churn_risk", "value": {"levels": ["high"]}}])
    finally:
        unregister_score_source("churn_risk")


def test_the_count_and_the_targeting_are_the_same_query(people, chain):
    from campaigns.services.segments import segment_create

    rules = [{"field": "home_store", "value": [chain.store_a.pk]}]
    segment = segment_create(actor=chain.marketer, name="徐汇店会员", rules=rules)

    assert segment.member_count == members_matching(segment.rules).count() == 2
    assert {m.pk for m in members_matching(segment.rules)} == {people["wang"].pk, people["zhang"].pk}
