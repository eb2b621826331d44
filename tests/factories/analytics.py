import datetime as dt
from decimal import Decimal

import factory

from loyalty.models import MemberDailySpend


class MemberDailySpendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberDailySpend

    spend = Decimal("100.00")
    visits = 1


def purchase_history(member, *, as_of: dt.date, days_ago: list[int], spend: str = "100.00") -> None:
    """One purchase of `spend` on each of the given days before `as_of`."""
    for ago in days_ago:
        MemberDailySpendFactory(member=member, day=as_of - dt.timedelta(days=ago), spend=Decimal(spend))
