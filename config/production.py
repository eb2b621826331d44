"""Production refuses to start on development defaults.

The embedded SECRET_KEY is public (it is in this repository), and the key signs sessions, password
resets and the members' QR codes: a server that ran on it could be impersonated by anyone. So the
processes that serve production (the WSGI and ASGI applications that gunicorn loads, `runserver`
through them, the Celery worker and beat) refuse to start with DEBUG off on that key, before they
answer anything. The settings themselves do not refuse: management commands and the tests import them
with DEBUG off and serve nobody, and the embedded mode (`make run`: DEBUG on) needs no set-up.
`manage.py check --deploy` reports the rest (config.checks, and Django's own deployment checks).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def refuse_development_defaults() -> None:
    """ImproperlyConfigured when DEBUG is off and SECRET_KEY is missing or the embedded default."""
    if settings.DEBUG:
        return
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: production (DEBUG off) does not start on the embedded development key. "
            "Set the SECRET_KEY environment variable to a long random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))' (README, \"Production shape\"), "
            "or set DJANGO_DEBUG=1 for the embedded development mode."
        )
