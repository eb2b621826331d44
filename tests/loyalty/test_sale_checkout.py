"""sale_checkout: the order of discounts and tenders, points earned, rules, idempotency, tiers, statistics."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from loyalty.models import (
    EarningRule,
    MemberDailySpend,
    MemberStats,
    PointsAccount,
    PointsEntry,
    Sale,
    TierChange,
    TierPolicy,
)
from loyalty.reconcile import ledger_mismatches
from loyalty.services import LineInput, TenderInput, sale_checkout, sale_refund, tiers_evaluate, wallet_top_up
from members.models import Member
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, RechargePackageFactory, TierFactory
from tests.loyalty.clock import Clock, local
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def clock(monkeypatch):
    # A Wednesday in May.
    return Clock(monkeypatch, local(2026, 5, 13, 15, 0))


def error_code(excinfo) -> str:
    return next(iter(excinfo.value.error_dict.values()))[0].code


def available(member) -> int:
    return PointsAccount.objects.get(pk=member.pk).available


def give_tier(member, tier) -> None:
    MemberStats.objects.update_or_create(member=member, defaults={"tier": tier})


def checkout(chain, member, lines, *, store=None, cashier=None, points=0, request_id=None, **tenders):
    return sale_checkout(
        request_id=request_id or rid(),
        store=store or chain.store_a,
        cashier=cashier or chain.cashier_a,
        member=member,
        lines=[LineInput(category, D("1"), D(price), sku) for category, price, sku in lines],
        tenders=[TenderInput(kind, D(amount)) for kind, amount in tenders.items()],
        points_to_redeem=points,
    )


# The order: lines → tier discount → points → tenders


def test_checkout_applies_the_tier_discount_then_points_then_tenders(chain, member, sell):
    sell(member, "5000.00", cash="5000.00")
    give_tier(member, TierFactory(name="金卡", discount_percent=D("10")))
    # When a ¥200 sale is paid with 5000 points (¥50) and cash
    sale = sell(member, "200.00", points=5000, cash="130.00")
    # Then 10% comes off first (¥180 due), points pay ¥50, and cash pays the ¥130 left
    assert (sale.subtotal, sale.tier_discount, sale.points_value) == (D("200.00"), D("20.00"), D("50.00"))
    assert (sale.total_due, sale.paid_money) == (D("130.00"), D("130.00"))
    assert sale.points_earned == 130
    assert sale.lines.get().net_amount == D("180.00")


def test_tenders_must_add_up_to_what_is_due_after_discount_and_points(chain, member, sell):
    sell(member, "5000.00", cash="5000.00")
    give_tier(member, TierFactory(discount_percent=D("10")))
    with pytest.raises(ValidationError) as excinfo:
        sell(member, "200.00", points=5000, cash="180.00")
    assert error_code(excinfo) == "tenders_mismatch"
    assert Sale.objects.count() == 1


def test_tenders_that_add_up_to_the_cent_are_accepted_on_every_database(chain, member, sell):
    # ¥0.10 + ¥0.20 is not ¥0.30 in floating point, which is how SQLite adds decimals
    wallet_top_up(
        request_id=rid(), member=member, store=chain.store_a, staff=chain.cashier_a, tender="cash", amount=D("100")
    )
    sale = sell(member, "0.30", stored_value="0.10", cash="0.20")
    assert (sale.total_due, sale.paid_principal, sale.paid_money) == (D("0.30"), D("0.10"), D("0.20"))
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=D("0.30"))
    sale.refresh_from_db()
    assert sale.status == Sale.Status.REFUNDED


def test_points_may_pay_at_most_the_policys_share_in_whole_steps(chain, member, sell):
    sell(member, "20000.00", cash="20000.00")
    with pytest.raises(ValidationError) as too_much:
        sell(member, "100.00", points=5100, cash="49.00")
    with pytest.raises(ValidationError) as not_a_step:
        sell(member, "100.00", points=150, cash="98.50")
    assert error_code(too_much) == "points_cap_exceeded"
    assert error_code(not_a_step) == "invalid_points"
    assert sell(member, "100.00", points=5000, cash="50.00").points_value == D("50.00")


# Points earned: only on money, rounded down, with exclusions


def test_points_are_earned_on_money_not_on_points_or_stored_value_bonus(chain, member, sell, policy):
    sell(member, "2000.00", cash="2000.00")
    wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(),
    )
    # When ¥100 is paid ¥20 with points, ¥50 from stored value (¥45.45 principal, ¥4.55 bonus) and ¥30 cash
    sale = sell(member, "100.00", points=2000, stored_value="50.00", cash="30.00")
    # Then only the ¥30 cash and the ¥45.45 principal earn
    assert (sale.paid_principal, sale.paid_bonus) == (D("45.45"), D("4.55"))
    assert (sale.points_eligible_amount, sale.points_earned) == (D("75.45"), 75)
    # And when principal does not earn either, only the cash does
    policy.wallet_earns_points = False
    policy.save()
    assert sell(member, "100.00", stored_value="50.00", cash="50.00").points_earned == 50


@pytest.mark.parametrize(
    ("rate", "amount", "earned"),
    [("1.00", "99.99", 99), ("1.50", "33.33", 49), ("0.10", "9.99", 0), ("2.00", "0.50", 1)],
)
def test_points_are_rounded_down_per_sale(chain, member, sell, base_rule, rate, amount, earned):
    base_rule.points_per_yuan = D(rate)
    base_rule.save()
    assert sell(member, amount, cash=amount).points_earned == earned


def test_excluded_categories_and_skus_earn_nothing(chain, member, base_rule):
    base_rule.excluded_categories = ["烟酒"]
    base_rule.excluded_skus = ["GIFT-CARD-100"]
    base_rule.save()
    by_category = checkout(chain, member, [("饮品", "60.00", ""), ("烟酒", "40.00", "")], cash="100.00")
    by_sku = checkout(chain, member, [("食品", "50.00", "GIFT-CARD-100"), ("食品", "50.00", "BREAD")], cash="100.00")
    assert (by_category.points_earned, by_category.points_eligible_amount) == (60, D("60.00"))
    assert by_sku.points_earned == 50


def test_a_sale_with_no_earning_rule_earns_nothing(chain, member, sell, base_rule):
    base_rule.is_active = False
    base_rule.save()
    assert sell(member, "100.00", cash="100.00").points_earned == 0


# Multipliers and how they combine


@pytest.mark.parametrize(
    ("combine", "earned"),
    [
        (EarningRule.Combine.MULTIPLY, 360),  # 2 × 1.5 × 1.2
        (EarningRule.Combine.ADD, 270),  # 1 + 1 + 0.5 + 0.2
        (EarningRule.Combine.BEST, 200),  # the best of 2, 1.5, 1.2
    ],
)
def test_member_day_birthday_month_and_tier_multipliers_combine_as_the_rule_says(
    clock, chain, sell, base_rule, combine, earned
):
    # Given today is member day, in the member's birthday month, and the member's tier multiplies by 1.2
    today = clock.now.date()
    base_rule.member_day_weekday = today.weekday()
    base_rule.member_day_multiplier = D("2")
    base_rule.birthday_month_multiplier = D("1.5")
    base_rule.combine = combine
    base_rule.save()
    member = MemberFactory(birthday=date(1990, today.month, 28))
    give_tier(member, TierFactory(points_multiplier=D("1.2")))
    # When they spend ¥100
    assert sell(member, "100.00", cash="100.00").points_earned == earned


def test_multipliers_apply_only_on_their_days(clock, chain, sell, base_rule):
    today = clock.now.date()
    base_rule.member_day_weekday = (today.weekday() + 1) % 7
    base_rule.member_day_multiplier = D("2")
    base_rule.birthday_month_multiplier = D("1.5")
    base_rule.use_tier_multiplier = False
    base_rule.save()
    member = MemberFactory(birthday=date(1990, today.month % 12 + 1, 1))
    give_tier(member, TierFactory(points_multiplier=D("3")))
    assert sell(member, "100.00", cash="100.00").points_earned == 100
    clock.advance(days=1)  # member day
    assert sell(member, "100.00", cash="100.00").points_earned == 200


# Caps


def test_a_sale_earns_at_most_the_per_sale_cap(chain, member, sell, base_rule):
    base_rule.per_sale_cap = 50
    base_rule.save()
    assert sell(member, "100.00", cash="100.00").points_earned == 50
    assert sell(member, "30.00", cash="30.00").points_earned == 30


def test_a_member_earns_at_most_the_per_day_cap(clock, chain, member, sell, base_rule):
    base_rule.per_day_cap = 150
    base_rule.save()
    earned = [sell(member, "100.00", cash="100.00").points_earned for _ in range(3)]
    assert earned == [100, 50, 0]
    clock.advance(days=1)
    assert sell(member, "100.00", cash="100.00").points_earned == 100
    assert available(member) == 250


# Which rule applies


def test_a_rule_limited_to_a_store_applies_only_there(chain, member, base_rule):
    store_b_rule = EarningRuleFactory(name="北京店双倍", priority=10, points_per_yuan=D("2.00"))
    store_b_rule.stores.set([chain.store_b])
    at_a = checkout(chain, member, [("饮品", "100.00", "")], cash="100.00")
    at_b = checkout(
        chain, member, [("饮品", "100.00", "")], store=chain.store_b, cashier=chain.cashier_b, cash="100.00"
    )
    assert (at_a.points_earned, at_b.points_earned) == (100, 200)
    # And every movement records its store and staff
    entry = PointsEntry.objects.get(sale=at_b, kind=PointsEntry.Kind.EARN)
    assert (entry.store_id, entry.staff_id) == (chain.store_b.pk, chain.cashier_b.pk)


def test_a_rule_applies_only_within_its_dates(clock, chain, member, sell):
    today = clock.now.date()
    EarningRuleFactory(
        name="周末三倍",
        priority=10,
        points_per_yuan=D("3.00"),
        starts_on=date.fromordinal(today.toordinal() + 1),
        ends_on=date.fromordinal(today.toordinal() + 2),
    )
    earned = []
    for _day in range(4):
        earned.append(sell(member, "10.00", cash="10.00").points_earned)
        clock.advance(days=1)
    assert earned == [10, 30, 30, 10]


# Idempotency and refusals


def test_the_same_request_id_returns_the_first_sale(chain, member, sell):
    request_id = rid()
    first = sell(member, "88.00", cash="88.00", request_id=request_id)
    again = sell(member, "88.00", cash="88.00", request_id=request_id)
    assert again.pk == first.pk
    assert Sale.objects.count() == 1
    assert available(member) == 88
    assert MemberStats.objects.get(pk=member.pk).purchase_count == 1


def test_a_different_sale_under_a_used_request_id_is_refused(chain, member, sell):
    request_id = rid()
    sell(member, "88.00", cash="88.00", request_id=request_id)
    with pytest.raises(ValidationError) as excinfo:
        sell(member, "99.00", cash="99.00", request_id=request_id)
    assert error_code(excinfo) == "request_id_reused"
    assert Sale.objects.count() == 1


def test_a_frozen_member_cannot_be_sold_to(chain, member, sell):
    member.status = Member.Status.FROZEN
    member.save()
    with pytest.raises(ValidationError) as excinfo:
        sell(member, "10.00", cash="10.00")
    assert error_code(excinfo) == "member_frozen"
    assert not Sale.objects.exists()
    assert not PointsEntry.objects.exists()


def test_a_cashier_cannot_sell_at_another_store(chain, member):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        checkout(chain, member, [("饮品", "10.00", "")], cashier=chain.cashier_b, cash="10.00")
    assert not Sale.objects.exists()


# Tiers


@pytest.fixture
def tiers(db):
    TierPolicy.objects.create(metric="spend", window_days=90, retention_days=365)
    return (
        TierFactory(code="NORMAL", name="普卡", rank=0, threshold=D("0")),
        TierFactory(code="SILVER", name="银卡", rank=1, threshold=D("1000")),
        TierFactory(code="GOLD", name="金卡", rank=2, threshold=D("5000")),
    )


def tier_of(member):
    return MemberStats.objects.select_related("tier").get(pk=member.pk).tier


def test_a_sale_that_crosses_a_threshold_upgrades_at_once_and_its_refund_reverts_it(chain, member, sell, tiers):
    normal, silver, _gold = tiers
    sell(member, "500.00", cash="500.00")
    assert tier_of(member) == normal
    # When a sale takes the member over ¥1000
    crossing = sell(member, "600.00", cash="600.00")
    # Then the upgrade happens with that sale
    assert tier_of(member) == silver
    change = TierChange.objects.filter(member=member).first()
    assert (change.to_tier, change.reason, change.sale) == (silver, TierChange.Reason.UPGRADE, crossing)
    # When that sale is refunded
    sale_refund(request_id=rid(), sale=crossing, actor=chain.manager_a, reason="退货", amount=D("600.00"))
    # Then the upgrade is undone
    assert tier_of(member) == normal
    assert TierChange.objects.filter(member=member).first().reason == TierChange.Reason.REFUND


def test_a_partial_refund_that_keeps_the_threshold_keeps_the_tier(chain, member, sell, tiers):
    _normal, silver, _gold = tiers
    crossing = sell(member, "1200.00", cash="1200.00")
    sale_refund(request_id=rid(), sale=crossing, actor=chain.manager_a, reason="退货", amount=D("100.00"))
    assert tier_of(member) == silver


def test_a_tier_drops_only_at_evaluation_after_its_retention(clock, chain, member, sell, tiers):
    normal, silver, _gold = tiers
    sell(member, "1000.00", cash="1000.00")
    assert tier_of(member) == silver
    # Given 100 days later the spend has left the 90-day window, but the tier is kept for a year
    clock.advance(days=100)
    sell(member, "10.00", cash="10.00")  # a sale never downgrades
    assert tier_of(member) == silver
    assert tiers_evaluate() == {"examined": 0, "downgraded": 0}
    assert tier_of(member) == silver
    # When the evaluation runs after the year
    clock.advance(days=266)
    summary = tiers_evaluate()
    # Then the member drops to the tier their spend now reaches, once
    assert summary == {"examined": 1, "downgraded": 1}
    assert tier_of(member) == normal
    assert TierChange.objects.filter(member=member).first().reason == TierChange.Reason.EVALUATION
    assert tiers_evaluate()["downgraded"] == 0


def test_a_member_who_still_qualifies_keeps_the_tier_at_evaluation(clock, chain, member, sell, tiers):
    _normal, silver, _gold = tiers
    sell(member, "1000.00", cash="1000.00")
    clock.advance(days=366)
    sell(member, "1000.00", cash="1000.00")
    assert tiers_evaluate() == {"examined": 1, "downgraded": 0}
    assert tier_of(member) == silver


# Purchase statistics


def test_a_sale_updates_the_members_statistics_and_daily_spend(clock, chain, member, sell, policy):
    wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(),
    )
    first = sell(member, "100.00", cash="100.00")
    clock.advance(hours=2)
    sell(member, "55.00", stored_value="55.00")
    stats = MemberStats.objects.get(pk=member.pk)
    assert (stats.purchase_count, stats.total_spend) == (2, D("155.00"))
    assert (stats.first_purchase_at, stats.last_purchase_at) == (first.created_at, clock.now)
    daily = MemberDailySpend.objects.get(member=member)
    # ¥55 from stored value is ¥50 principal + ¥5 bonus: the bonus earns no points
    assert (daily.day, daily.spend, daily.visits, daily.points_earned) == (date(2026, 5, 13), D("155.00"), 2, 150)
    # And a refund takes its share back out
    sale_refund(request_id=rid(), sale=first, actor=chain.manager_a, reason="退货", amount=D("40.00"))
    daily.refresh_from_db()
    stats.refresh_from_db()
    assert (daily.spend, daily.visits, daily.points_earned) == (D("115.00"), 2, 110)
    assert stats.total_refunded == D("40.00")
    assert ledger_mismatches() == []


def test_points_paid_are_not_counted_as_spend_or_refunded_spend(chain, member, sell):
    sell(member, "1000.00", cash="1000.00")
    sale = sell(member, "100.00", points=1000, cash="90.00")
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=D("100.00"))
    stats = MemberStats.objects.get(pk=member.pk)
    # ¥1090 paid with money, ¥90 of it refunded: the ¥10 paid with points is in neither
    assert (stats.total_spend, stats.total_refunded) == (D("1090.00"), D("90.00"))
    assert MemberDailySpend.objects.get(member=member).spend == D("1000.00")


def test_a_sale_without_a_member_earns_nothing_and_needs_no_account(chain, sell):
    sale = sell(None, "50.00", cash="50.00")
    assert (sale.member, sale.points_earned) == (None, 0)
    assert not PointsAccount.objects.exists()
    with pytest.raises(ValidationError) as excinfo:
        sell(None, "50.00", stored_value="50.00")
    assert error_code(excinfo) == "member_required"
