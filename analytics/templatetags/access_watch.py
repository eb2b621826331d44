"""The HQ home's list of store staff who look at far more members than their stores serve."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def access_watch_for(user) -> dict | None:
    """{"flagged": the listed accounts, "days": the window} for who may read the access log (the HQ
    admin); None for anyone else."""
    from analytics.access_watch import staff_looking_too_far_cached
    from members.admin_access import may_read_access_log

    if not may_read_access_log(user):
        return None
    return {"flagged": staff_looking_too_far_cached(), "days": settings.MEMBER_ACCESS_WATCH_DAYS}
