"""System checks of the members app (`manage.py check`, and every server and worker start)."""

from django.conf import settings
from django.core.checks import Error, register

# China's Cybersecurity Law (art. 21) asks network operators to keep logs for at least six months.
MIN_ACCESS_RETENTION_DAYS = 180


@register()
def access_log_retention(app_configs, **kwargs):
    days = settings.MEMBER_ACCESS_RETENTION_DAYS
    if days < MIN_ACCESS_RETENTION_DAYS:
        return [
            Error(
                f"MEMBER_ACCESS_RETENTION_DAYS is {days}: the member access log must be kept at least "
                f"{MIN_ACCESS_RETENTION_DAYS} days.",
                hint="China's Cybersecurity Law (art. 21) asks for six months of logs; 365 is the default.",
                id="members.E001",
            )
        ]
    return []
