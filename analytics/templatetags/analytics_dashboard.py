from decimal import Decimal

from django import template

from analytics.dashboards.base import DATE, DECIMAL, INT, MONEY, PERCENT

register = template.Library()


@register.filter
def cell(value, kind: str = ""):
    """A table cell or a figure in its kind: numbers grouped by thousands with commas in both languages
    (as Chinese financial reports do; Django's zh-hans format groups nothing), two-place money, a
    percent, — for nothing."""
    if value is None or value == "":
        return "—"
    try:
        if kind == INT:
            return f"{int(value):,}"
        if kind in (MONEY, DECIMAL):
            return f"{Decimal(value):,.2f}"
        if kind == PERCENT:
            return f"{Decimal(value):,.2f}%"
    except (TypeError, ValueError, ArithmeticError):
        return value
    if kind == DATE and hasattr(value, "isoformat"):
        return value.isoformat()  # 2026-03-14 in both languages, as the period labels
    return value


@register.filter
def cells(row, columns):
    """(value, column) pairs of a row, for the template to format each by its column's kind."""
    return zip(row, columns, strict=False)


@register.simple_tag
def dashboard_links(user):
    """The dashboards `user` may read, for the admin home page (none for who may not)."""
    from analytics.dashboards import dashboards
    from stores.permissions import staff_can
    from stores.roles import Action

    return dashboards() if staff_can(user, Action.VIEW_ANALYTICS) else []
