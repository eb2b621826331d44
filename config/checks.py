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
