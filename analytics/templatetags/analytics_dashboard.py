from django import template
from django.utils.formats import number_format

from analytics.dashboards.base import DATE, DECIMAL, INT, MONEY, PERCENT

register = template.Library()


@register.filter
def cell(value, kind: str = ""):
    """A table cell or a figure in its kind: grouped numbers, two-place money, a percent, — for nothing."""
    if value is None or value == "":
        return "—"
    if kind == INT:
        return number_format(value, force_grouping=True)
    if kind in (MONEY, DECIMAL):
        return number_format(value, 2, force_grouping=True)
    if kind == PERCENT:
        return f"{number_format(value, 2, force_grouping=True)}%"
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
