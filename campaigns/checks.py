"""System checks of the campaigns app (`manage.py check`, and every server and worker start)."""

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def message_backends_load(app_configs, **kwargs):
    """Each channel's backend setting names a backend that loads, for that channel."""
    from campaigns.messaging.backends import SETTING_BY_CHANNEL, backend_for

    errors = []
    for channel, setting in SETTING_BY_CHANNEL.items():
        try:
            backend_for(channel)
        except ImproperlyConfigured as error:
            errors.append(
                Error(
                    str(error),
                    hint=f"Set {setting} to file, console, email (email), sms-gateway (SMS) or a dotted path.",
                    id="campaigns.E001",
                )
            )
    return errors
