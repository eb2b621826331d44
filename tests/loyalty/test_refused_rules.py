"""Loyalty configuration that makes no sense is refused: tiers out of order, two packages of one name,
a multiplier of 0, a clearing date that does not exist. The page says why; the database keeps it."""

import importlib
from datetime import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from loyalty.models import EarningRule, LoyaltySettings, RechargePackage, Tier
from loyalty.services.policy import expiry_for
from tests.factories.loyalty import EarningRuleFactory, RechargePackageFactory, TierFactory

pytestmark = pytest.mark.django_db


def url(model, view="add", *args) -> str:
    return reverse(f"admin:loyalty_{model._meta.model_name}_{view}", args=args)


def tier_data(**values) -> dict:
    defaults = {"rank": 1, "threshold": "0", "discount_percent": "0", "points_multiplier": "1", "birthday_points": 0}
    return {**defaults, **values}


@pytest.fixture
def tiers(db):
    return [
        TierFactory(code="NORMAL", name="普通会员", rank=0, threshold=Decimal("0")),
        TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000")),
        TierFactory(code="GOLD", name="金卡", rank=3, threshold=Decimal("5000")),
    ]


# --- tiers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("800", "升级门槛须高于较低等级“银卡”的门槛（1000）。"),
        ("1000", "升级门槛须高于较低等级“银卡”的门槛（1000）。"),
        ("6000", "升级门槛须低于较高等级“金卡”的门槛（5000）。"),
        ("5000", "升级门槛须低于较高等级“金卡”的门槛（5000）。"),
    ],
)
def test_a_tier_whose_threshold_is_not_between_its_neighbours_is_refused(client, chain, tiers, threshold, message):
    # Given 普通会员 (0), 银卡 (1000) and 金卡 (5000) at ranks 0, 1 and 3
    client.force_login(chain.hq_admin)

    # When HQ adds a tier at rank 2 whose threshold is not between 1000 and 5000
    response = client.post(url(Tier), tier_data(code="PLATINUM", name="铂金卡", rank=2, threshold=threshold))

    # Then the threshold is refused with the neighbour's name, and no tier is added
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"threshold": [message]}
    assert Tier.objects.count() == 3


def test_a_tier_between_its_neighbours_is_added(client, chain, tiers):
    client.force_login(chain.hq_admin)
    response = client.post(url(Tier), tier_data(code="PLATINUM", name="铂金卡", rank=2, threshold="2500"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Tier.objects.get(code="PLATINUM").threshold == Decimal("2500")


def test_moving_a_tier_is_checked_against_the_others_not_itself(client, chain, tiers):
    silver = tiers[1]
    client.force_login(chain.hq_admin)

    # Raising 银卡 within its neighbours is fine (its own old threshold does not count) …
    response = client.post(url(Tier, "change", silver.pk), tier_data(code="SILVER", name="银卡", threshold="1200"))
    assert response.status_code == 302, response.context["adminform"].form.errors

    # … lifting it above 金卡 is not, in English too.
    response = client.post(
        url(Tier, "change", silver.pk),
        tier_data(code="SILVER", name="银卡", threshold="8000"),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.context["adminform"].form.errors == {
        "threshold": ["The threshold must be below that of “金卡” (5000), a higher-ranked tier."]
    }
    silver.refresh_from_db()
    assert silver.threshold == Decimal("1200")


def test_two_tiers_of_one_rank_are_refused_in_words(client, chain, tiers):
    client.force_login(chain.hq_admin)
    response = client.post(url(Tier), tier_data(code="SILVER", name="新银卡", rank=1, threshold="1000"))
    assert response.context["adminform"].form.errors == {
        "code": ["已有其他会员等级使用此编码。"],
        "rank": ["已有其他会员等级使用此序号。"],
    }


def test_a_tier_multiplier_of_zero_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        TierFactory(points_multiplier=Decimal("0"))


# --- recharge packages ---------------------------------------------------------------------------


def test_two_active_packages_of_one_name_are_refused_whatever_the_case(client, chain):
    RechargePackageFactory(name="VIP充500送50")
    client.force_login(chain.hq_admin)

    response = client.post(
        url(RechargePackage), {"name": "vip充500送50", "pay_amount": "500", "bonus_amount": "80", "is_active": "on"}
    )

    assert response.context["adminform"].form.errors == {"name": ["已有同名的在售充值套餐。"]}
    assert RechargePackage.objects.count() == 1


def test_a_package_no_longer_sold_leaves_its_name_to_a_new_one(client, chain):
    RechargePackageFactory(name="充500送50", is_active=False)
    client.force_login(chain.hq_admin)

    response = client.post(
        url(RechargePackage), {"name": "充500送50", "pay_amount": "500", "bonus_amount": "80", "is_active": "on"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert RechargePackage.objects.filter(name="充500送50").count() == 2


def _package_as_saved_before(name: str, **fields) -> RechargePackage:
    return RechargePackage.objects.create(
        name=name, pay_amount=Decimal("500.00"), bonus_amount=Decimal("50.00"), **fields
    )


def test_the_migration_numbers_active_packages_that_shared_a_name():
    # Given packages saved before names were unique (the index dropped for the test's transaction)
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX package_name_unique")
    first, second, third = (_package_as_saved_before("充500送50") for _ in range(3))
    old = _package_as_saved_before("充500送50", is_active=False)

    # When the migration's data step runs
    migration = importlib.import_module("loyalty.migrations.0013_constraint_messages_and_nonsense_refused")
    migration.rename_duplicate_active_packages(apps, None)

    # Then the first active one keeps its name, the others are numbered, and one no longer sold is left alone
    names = dict(RechargePackage.objects.values_list("pk", "name"))
    assert [names[p.pk] for p in (first, second, third, old)] == [
        "充500送50",
        "充500送50 (2)",
        "充500送50 (3)",
        "充500送50",
    ]


# --- earning rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"member_day_multiplier": Decimal("0")}, "rule_member_day_multiplier_min"),
        ({"birthday_month_multiplier": Decimal("0.5")}, "rule_birthday_multiplier_min"),
        ({"per_sale_cap": 0}, "rule_per_sale_cap_positive"),
        ({"per_day_cap": 0}, "rule_per_day_cap_positive"),
        ({"per_sale_cap": 500, "per_day_cap": 200}, "rule_caps_ordered"),
    ],
)
def test_the_database_refuses_a_rule_that_makes_no_sense(changes, constraint):
    rule = EarningRuleFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        EarningRule.objects.filter(pk=rule.pk).update(**changes)


# --- annual clearing -----------------------------------------------------------------------------


@pytest.mark.parametrize(("month", "day"), [(2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31)])
def test_a_clearing_date_that_does_not_exist_is_refused_by_the_database(month, day):
    settings = LoyaltySettings.current()
    with pytest.raises(IntegrityError, match="settings_clearing_date_exists"), transaction.atomic():
        LoyaltySettings.objects.filter(pk=settings.pk).update(annual_clearing_month=month, annual_clearing_day=day)


def test_29_february_is_a_clearing_date_that_falls_on_28_february_in_other_years(client, chain):
    settings = LoyaltySettings.current()
    client.force_login(chain.hq_admin)
    page = client.get(url(LoyaltySettings, "change", settings.pk))
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update(expiry_policy="annual", annual_clearing_month=2, annual_clearing_day=29, wallet_earns_points="on")

    response = client.post(url(LoyaltySettings, "change", settings.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    settings.refresh_from_db()
    earned = timezone.make_aware(datetime(2026, 3, 5, 12, 0))
    # Earned in the clearing year 2026-03-01 … 2027-02-28: cleared at the end of 2028-02-29 (a leap year).
    assert expiry_for(earned, settings) == timezone.make_aware(datetime(2028, 3, 1))
    earned = timezone.make_aware(datetime(2027, 3, 5, 12, 0))
    # Earned in 2027-03-01 … 2028-02-29: cleared at the end of 2029-02-28.
    assert expiry_for(earned, settings) == timezone.make_aware(datetime(2029, 3, 1))
