"""Figures of other tables per row of a list, inside the list's own query: a correlated subquery per
figure, each one an index lookup per row (the store's sales by `sale_store_idx`, its refunds by
their store index …), so a list of stores or campaigns with its figures costs one query."""

from decimal import Decimal

from django.db.models import DecimalField, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=14, decimal_places=2)


def per_row(queryset: QuerySet, key: str, aggregate, *, money: bool = False, outer: str = "pk"):
    """`aggregate` over the rows of `queryset` whose `key` is the outer row's `outer`, 0 when none."""
    inner = queryset.filter(**{key: OuterRef(outer)}).order_by().values(key).annotate(figure=aggregate).values("figure")
    if money:
        return Coalesce(Subquery(inner, output_field=_MONEY), ZERO, output_field=_MONEY)
    return Coalesce(Subquery(inner, output_field=IntegerField()), 0, output_field=IntegerField())
