"""Template tags of the loyalty back office."""

from django import template

from stores.permissions import staff_can
from stores.roles import Action

register = template.Library()


@register.simple_tag
def loyalty_tool_access(user) -> dict[str, bool]:
    """Which custom loyalty pages `user` may open, with the checks the views themselves make
    (loyalty.admin_views): the manual adjustment needs ADJUST_POINTS, the reports VIEW_ANALYTICS."""
    adjust = staff_can(user, Action.ADJUST_POINTS)
    reports = staff_can(user, Action.VIEW_ANALYTICS)
    # The ledger exports (loyalty.admin_exports) need EXPORT_DATA.
    export = staff_can(user, Action.EXPORT_DATA)
    return {
        "adjust_points": adjust,
        "view_reports": reports,
        "export_ledger": export,
        "any": adjust or reports or export,
    }
