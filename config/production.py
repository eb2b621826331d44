"""Production refuses to start on development defaults.

The embedded SECRET_KEY is public (it is in this repository), and the key signs sessions, password
resets and the members' QR codes: a server that ran on it could be impersonated by anyone. So the
processes that serve production (the WSGI and ASGI applications that gunicorn loads, `runserver`
through them, the Celery worker and beat) refuse to start with DEBUG off on that key, before they
answer anything. The settings themselves do not refuse: management commands and the tests import them
with DEBUG off and serve nobody, and the embedded mode (`make run`: DEBUG on) needs no set-up.
`manage.py check --deploy` reports the rest (config.checks, and Django's own deployment checks).

The keys of the members' personal data (members.crypto) are refused the same way: production must take
them from the environment (a secrets manager, the unit file), not from a keys file generated beside the
code on first use, which the embedded mode relies on and a backup of the server would carry off.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def refuse_development_defaults() -> None:
    """ImproperlyConfigured when DEBUG is off and SECRET_KEY is missing or the embedded default, or the
    member data keys are not in the environment or malformed."""
    if settings.DEBUG:
        return
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: production (DEBUG off) does not start on the embedded development key. "
            "Set the SECRET_KEY environment variable to a long random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))' (README, \"Production shape\"), "
            "or set DJANGO_DEBUG=1 for the embedded development mode."
        )
    if not (settings.MEMBER_DATA_KEYS and settings.MEMBER_INDEX_KEY):
        raise ImproperlyConfigured(
            "MEMBER_DATA_KEYS and MEMBER_INDEX_KEY are not set: production (DEBUG off) does not start without "
            'the keys of the members\' personal data in the environment (README, "Keys of the member data"). '
            "python manage.py member_keys prints a new pair to store in your secrets manager."
        )
    from members.crypto import keyring

    # Malformed keys stop the start here rather than the first member page.
    keyring()
