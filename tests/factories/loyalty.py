from decimal import Decimal

import factory

from loyalty.models import EarningRule, LoyaltySettings, RechargePackage, Tier


class LoyaltySettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoyaltySettings


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"T{n}")
    name = factory.Sequence(lambda n: f"等级{n}")
    rank = factory.Sequence(lambda n: n)
    threshold = Decimal("0.00")


class EarningRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EarningRule

    name = "基础积分"
    points_per_yuan = Decimal("1.00")


class RechargePackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RechargePackage
        # Two packages on sale may not share a name: the chain's 充500送50 is one package, however often asked.
        django_get_or_create = ("name", "is_active")

    name = "充500送50"
    is_active = True
    pay_amount = Decimal("500.00")
    bonus_amount = Decimal("50.00")
