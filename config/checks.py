from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def embedded_secret_key_is_not_for_production(app_configs, **kwargs):
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the embedded default; set the SECRET_KEY environment variable.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(50))'",
                id="config.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def member_keys_come_from_the_environment(app_configs, **kwargs):
    if not (settings.MEMBER_DATA_KEYS and settings.MEMBER_INDEX_KEY):
        return [
            Error(
                "MEMBER_DATA_KEYS and MEMBER_INDEX_KEY are not set; production takes the member data keys from the "
                "environment, not from the embedded mode's keys file.",
                hint="python manage.py member_keys",
                id="config.E002",
            )
        ]
    return []
