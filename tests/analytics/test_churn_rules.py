"""The churn rules of score_members, one at a time: levels (dormant, gap, spend drop), reasons (price
sensitive, category shift, long inactive), the settings HQ edits, and the awkward histories.

Reasons read sales and lines, so their histories are rung up through loyalty's sale_checkout (then moved
back in time, sale and daily spend together); the levels read only the daily statistics, which
purchase_history writes directly. BG/NBD is switched off (P(alive) thresholds 0) wherever a test is about
a dormant rule, so the fitted model of a tiny chain cannot decide the level instead."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import MemberScore, ScoreSettings
from analytics.services import score_members
from loyalty.models import MemberDailySpend
from loyalty.services import sale_refund
from tests.factories.analytics import purchase_history, sale_on
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, TierFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def shop(chain):
    """The chain, with the loyalty settings and a 1 point per ¥1 rule checkout needs."""
    LoyaltySettingsFactory()
    EarningRuleFactory()
    return chain


@pytest.fixture
def rules_only(db):
    """Only the dormant rules decide the level: P(alive) never counts."""
    settings = ScoreSettings.load()
    settings.p_alive_high = settings.p_alive_medium = Decimal("0")
    settings.save()
    return settings


def score_of(member) -> MemberScore:
    return MemberScore.objects.get(member=member)


def change_settings(**values) -> None:
    settings = ScoreSettings.load()
    for name, value in values.items():
        setattr(settings, name, value)
    settings.full_clean()
    settings.save()


# --- reasons ---------------------------------------------------------------------------------------


def test_a_lapsed_member_who_mostly_bought_with_a_discount_is_price_sensitive(shop, today):
    # Given a 10 % member discount from the entry tier on, so every sale after the first is discounted
    TierFactory(code="MEMBER", rank=0, threshold=Decimal("0"), discount_percent=Decimal("10"))
    member = MemberFactory(store=shop.store_a)
    for ago in (200, 180, 160, 140):
        sale_on(member, chain=shop, days_ago=ago)
    # When they have not bought for 140 days (over the 90-day dormant rule)
    score_members(as_of=today)
    # Then 3 of their 4 sales had a discount (≥ 50 %): price sensitive
    score = score_of(member)
    assert score.churn_level == "high" and score.churn_reason == "price_sensitive"


def test_below_the_price_sensitive_share_the_reason_is_not_price_sensitive(shop, today):
    TierFactory(code="MEMBER", rank=0, threshold=Decimal("0"), discount_percent=Decimal("10"))
    member = MemberFactory(store=shop.store_a)
    for ago in (200, 180, 160, 140):
        sale_on(member, chain=shop, days_ago=ago)
    # Given HQ asks for 80 % of sales with a discount before calling a member price sensitive
    change_settings(price_sensitive_share=Decimal("0.80"))
    score_members(as_of=today)
    # Then 3 in 4 is not enough
    assert score_of(member).churn_reason == "long_inactive"


def _category_history(member, shop, *, recent: list[int]):
    """Drinks and bakery (a third of the spend) every 20 days from 300 to 100 days ago, then drinks only."""
    for ago in range(300, 99, -20):
        sale_on(member, chain=shop, days_ago=ago, amount="100.00", category="饮品")
        sale_on(member, chain=shop, days_ago=ago, amount="50.00", category="烘焙")
    for ago in recent:
        sale_on(member, chain=shop, days_ago=ago, amount="100.00", category="饮品")


def test_a_category_with_a_fifth_of_earlier_spend_missing_from_recent_buying_is_a_category_shift(
    shop, rules_only, today
):
    # Given a member whose bakery spend (a third of it) stopped, who still buys drinks, less than before
    member = MemberFactory(store=shop.store_a)
    _category_history(member, shop, recent=[60])
    # When scored
    score_members(as_of=today)
    # Then their recent spend fell below half their average (medium), and the reason is the lost category
    score = score_of(member)
    assert score.churn_level == "medium" and score.churn_reason == "category_shift"


def test_a_vanished_category_below_a_fifth_of_earlier_spend_is_no_category_shift(shop, rules_only, today):
    member = MemberFactory(store=shop.store_a)
    for ago in range(300, 99, -20):
        sale_on(member, chain=shop, days_ago=ago, amount="100.00", category="饮品")
        sale_on(member, chain=shop, days_ago=ago, amount="20.00", category="烘焙")  # 1/6 of the spend
    sale_on(member, chain=shop, days_ago=60, amount="100.00", category="饮品")
    score_members(as_of=today)
    score = score_of(member)
    assert score.churn_level == "medium" and score.churn_reason == "long_inactive"


def test_without_a_purchase_in_the_recent_window_the_reason_is_long_inactive(shop, rules_only, today):
    # Given the same history, but nothing bought in the last 90 days
    member = MemberFactory(store=shop.store_a)
    _category_history(member, shop, recent=[])
    score_members(as_of=today)
    # Then no category can have shifted: long inactive (and dormant for 100 days: high)
    score = score_of(member)
    assert score.churn_level == "high" and score.churn_reason == "long_inactive"


def test_a_member_still_buying_as_usual_is_low_risk_without_a_reason(shop, rules_only, today):
    member = MemberFactory(store=shop.store_a)
    for ago in range(120, 0, -10):
        sale_on(member, chain=shop, days_ago=ago)
    score_members(as_of=today)
    score = score_of(member)
    assert score.churn_level == "low" and score.churn_reason == ""


# --- levels --------------------------------------------------------------------------------------


def test_a_gap_longer_than_k_times_the_usual_interval_is_medium_risk(chain, rules_only, today):
    # Given two weekly shoppers for a year: one stopped 30 days ago, one 15 days ago
    stopped = MemberFactory(store=chain.store_a)
    purchase_history(stopped, as_of=today, days_ago=list(range(30, 365, 7)))
    steady = MemberFactory(store=chain.store_a)
    purchase_history(steady, as_of=today, days_ago=list(range(15, 365, 7)))
    score_members(as_of=today)
    # Then 30 days is more than 3 × 7: medium; 15 days is not
    assert score_of(stopped).churn_level == "medium"
    assert score_of(stopped).churn_reason == "long_inactive"
    assert score_of(steady).churn_level == "low"


def test_a_larger_gap_multiplier_lets_the_same_gap_pass(chain, rules_only, today):
    stopped = MemberFactory(store=chain.store_a)
    purchase_history(stopped, as_of=today, days_ago=list(range(30, 365, 7)))
    # Given HQ allows gaps of 5 × the usual interval (35 days)
    change_settings(gap_multiplier=Decimal("5"))
    score_members(as_of=today)
    assert score_of(stopped).churn_level == "low"


def test_recent_spend_below_the_share_of_their_average_is_medium_risk(chain, rules_only, today):
    # Given a weekly shopper who spent ¥100 a visit for nine months and ¥20 in the last 90 days
    member = MemberFactory(store=chain.store_a)
    purchase_history(member, as_of=today, days_ago=list(range(91, 365, 7)), spend="100.00")
    purchase_history(member, as_of=today, days_ago=list(range(1, 91, 7)), spend="20.00")
    score_members(as_of=today)
    # Then ¥20 × 13 is below half of their 90-day average: medium, though they still come every week
    score = score_of(member)
    assert score.recency_days == 1 and score.churn_level == "medium"


def test_a_lower_spend_drop_share_tolerates_the_same_drop(chain, rules_only, today):
    member = MemberFactory(store=chain.store_a)
    purchase_history(member, as_of=today, days_ago=list(range(91, 365, 7)), spend="100.00")
    purchase_history(member, as_of=today, days_ago=list(range(1, 91, 7)), spend="20.00")
    change_settings(spend_drop_share=Decimal("0.10"))
    score_members(as_of=today)
    assert score_of(member).churn_level == "low"


def test_no_purchase_for_the_dormant_days_is_high_risk(chain, rules_only, today):
    # Given a weekly shopper whose last purchase was 100 days ago
    member = MemberFactory(store=chain.store_a)
    purchase_history(member, as_of=today, days_ago=list(range(100, 400, 7)))
    score_members(as_of=today)
    assert score_of(member).churn_level == "high"
    # When HQ moves the dormant rule to 120 days, the long gap alone still makes them medium
    change_settings(dormant_days=120)
    score_members(as_of=today)
    assert score_of(member).churn_level == "medium"


def test_one_purchase_has_no_usual_interval_only_the_dormant_rule_applies(chain, rules_only, today):
    recent, old = MemberFactory(store=chain.store_a), MemberFactory(store=chain.store_a)
    purchase_history(recent, as_of=today, days_ago=[60])
    purchase_history(old, as_of=today, days_ago=[95])
    result = score_members(as_of=today)
    assert not result.fitted
    assert score_of(recent).churn_level == "low" and score_of(recent).frequency == 1
    assert score_of(old).churn_level == "high" and score_of(old).churn_reason == "long_inactive"


def test_a_fully_refunded_purchase_counts_as_a_visit_with_no_spend(shop, today):
    # Given a member who bought ¥100 fifty days ago, refunded in full today, and a ¥200 buyer
    member = MemberFactory(store=shop.store_a)
    sale = sale_on(member, chain=shop, days_ago=50, amount="100.00")
    other = MemberFactory(store=shop.store_a)
    sale_on(other, chain=shop, days_ago=50, amount="200.00")
    # Past the refund window: HQ refunds it.
    sale_refund(request_id=str(uuid.uuid4()), sale=sale, actor=shop.hq_admin, reason="退货", amount=sale.total_due)
    # Then the refund comes off the sale's own day
    day = MemberDailySpend.objects.get(member=member, day=today - dt.timedelta(days=50))
    assert day.spend == 0 and day.visits == 1
    score_members(as_of=today)
    # Then they are scored with one purchase and no spend: the lowest M, not a negative one
    score = score_of(member)
    assert score.monetary == 0 and score.m_score == 1
    assert score.recency_days == 50 and score.frequency == 1


def test_refunds_larger_than_the_purchases_of_the_period_give_zero_spend(chain, today):
    # Given daily statistics where refunds outweigh the purchases (a refund of an imported sale, booked on
    # a day the member also bought less)
    member = MemberFactory(store=chain.store_a)
    purchase_history(member, as_of=today, days_ago=[40], spend="30.00")
    purchase_history(member, as_of=today, days_ago=[10], spend="-80.00")
    score_members(as_of=today)
    score = score_of(member)
    assert score.monetary == 0 and score.frequency == 2 and score.recency_days == 10


def test_scores_as_of_an_earlier_day_ignore_what_came_after(shop, today):
    member = MemberFactory(store=shop.store_a)
    for ago in (40, 20):
        sale_on(member, chain=shop, days_ago=ago)
    score_members(as_of=today - dt.timedelta(days=30))
    score = score_of(member)
    assert score.frequency == 1 and score.recency_days == 10 and score.monetary == Decimal("100.00")
