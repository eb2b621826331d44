"""The HQ home's list of members the retention rule erases next (members.retention)."""

from django import template

from members.retention import members_due_for_erasure, retention_years
from stores.permissions import staff_can
from stores.roles import Action

register = template.Library()

SHOWN = 20
# Counting past this is a full anti-join of the members table on every visit to the home page.
COUNTED = 1000


@register.simple_tag
def retention_for(user) -> dict | None:
    """{"years", "next": the first members due, "count", "more": count capped} for the HQ admin while the
    rule is on; None otherwise."""
    years = retention_years()
    if years is None or not staff_can(user, Action.ERASE_MEMBER):
        return None
    due = list(members_due_for_erasure().only("pk", "code", "registered_at")[: COUNTED + 1])
    return {"years": years, "next": due[:SHOWN], "count": min(len(due), COUNTED), "more": len(due) > COUNTED}
