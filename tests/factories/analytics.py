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


def sale_on(member, *, chain, days_ago: int, amount: str = "100.00", category: str = "饮品"):
    """A cash sale rung up by loyalty's sale_checkout (cashier A at store A), then moved `days_ago` days
    back: the sale's time, and its visit and spend from today's MemberDailySpend row to that day's."""
    import uuid

    from django.utils import timezone

    from loyalty.models import Sale
    from loyalty.services import LineInput, TenderInput, sale_checkout, sale_quote

    lines = [LineInput(category=category, quantity=Decimal("1"), unit_price=Decimal(amount))]
    quote = sale_quote(store=chain.store_a, cashier=chain.cashier_a, member=member, lines=lines)
    today = timezone.localdate()
    before = MemberDailySpend.objects.filter(member=member, day=today).first()
    sale = sale_checkout(
        request_id=str(uuid.uuid4()),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=lines,
        tenders=[TenderInput("cash", quote.total_due)],
    )
    if days_ago:
        Sale.objects.filter(pk=sale.pk).update(created_at=sale.created_at - dt.timedelta(days=days_ago))
        after = MemberDailySpend.objects.get(member=member, day=today)
        spend = after.spend - (before.spend if before else 0)
        visits = after.visits - (before.visits if before else 0)
        MemberDailySpend.objects.filter(pk=after.pk).update(spend=after.spend - spend, visits=after.visits - visits)
        past, _ = MemberDailySpend.objects.get_or_create(
            member=member, day=today - dt.timedelta(days=days_ago), defaults={"spend": 0, "visits": 0}
        )
        MemberDailySpend.objects.filter(pk=past.pk).update(spend=past.spend + spend, visits=past.visits + visits)
    sale.refresh_from_db()
    return sale
