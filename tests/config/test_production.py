"""Production (DEBUG off) starts only with a real key, and its defaults are HTTPS, secure cookies and HSTS;
the embedded mode (`make run`, DEBUG on) still starts with no set-up."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parents[2]
A_REAL_KEY = "k3y-" + "9fQ2xLm7Rt" * 6
# Member data keys of production (members.crypto): 32 bytes each, base64.
MEMBER_KEYS = {
    "MEMBER_DATA_KEYS": "k1:" + base64.b64encode(b"d" * 32).decode(),
    "MEMBER_INDEX_KEY": base64.b64encode(b"i" * 32).decode(),
}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter with the project's settings and only the given variables set."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET", "SECURE_", "CELERY_", "MEMBER_"))
    }
    clean.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def settings_of(**env: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({n: getattr(s, n)"
        " for n in ['DEBUG', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', 'X_FRAME_OPTIONS', "
        "'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY']}))"
    )
    done = run_python(code, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_production_defaults_are_https_secure_cookies_and_hsts():
    production = settings_of(DJANGO_DEBUG="0", SECRET_KEY=A_REAL_KEY)

    assert production == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
    }


def test_the_embedded_mode_serves_plain_http_without_hsts():
    embedded = settings_of(DJANGO_DEBUG="1")

    assert embedded["DEBUG"] is True
    assert (embedded["SECURE_SSL_REDIRECT"], embedded["SESSION_COOKIE_SECURE"], embedded["CSRF_COOKIE_SECURE"]) == (
        False,
        False,
        False,
    )
    assert embedded["SECURE_HSTS_SECONDS"] == 0


def test_each_default_can_be_changed_by_the_environment():
    behind_a_plain_proxy = settings_of(
        DJANGO_DEBUG="0", SECRET_KEY=A_REAL_KEY, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="3600"
    )

    assert (behind_a_plain_proxy["SECURE_SSL_REDIRECT"], behind_a_plain_proxy["SECURE_HSTS_SECONDS"]) == (False, 3600)


def test_the_web_application_does_not_start_on_the_embedded_key():
    refused = run_python("import config.wsgi", DJANGO_DEBUG="0")
    refused_asgi = run_python("import config.asgi", DJANGO_DEBUG="0", SECRET_KEY="")

    assert refused.returncode != 0 and refused_asgi.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in refused.stderr
    assert "ImproperlyConfigured" in refused_asgi.stderr
    without_member_keys = run_python("import config.wsgi", DJANGO_DEBUG="0", SECRET_KEY=A_REAL_KEY)
    assert "ImproperlyConfigured: MEMBER_DATA_KEYS and MEMBER_INDEX_KEY are not set" in without_member_keys.stderr
    with_every_key = run_python("import config.wsgi", DJANGO_DEBUG="0", SECRET_KEY=A_REAL_KEY, **MEMBER_KEYS)
    assert with_every_key.returncode == 0, with_every_key.stderr
    # The embedded mode (`make run`) needs no set-up.
    embedded = run_python("import config.wsgi", DJANGO_DEBUG="1")
    assert embedded.returncode == 0, embedded.stderr


def test_the_refusal_is_the_key_with_debug_off(settings):
    from config.production import refuse_development_defaults

    settings.DEBUG = False
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set"):
        refuse_development_defaults()
    settings.SECRET_KEY = A_REAL_KEY
    with pytest.raises(ImproperlyConfigured, match="MEMBER_DATA_KEYS and MEMBER_INDEX_KEY are not set"):
        refuse_development_defaults()
    settings.MEMBER_DATA_KEYS = MEMBER_KEYS["MEMBER_DATA_KEYS"]
    settings.MEMBER_INDEX_KEY = MEMBER_KEYS["MEMBER_INDEX_KEY"]
    refuse_development_defaults()
    settings.MEMBER_DATA_KEYS = "k1:not-a-key"
    with pytest.raises(ImproperlyConfigured, match="not base64"):
        refuse_development_defaults()
    settings.SECRET_KEY, settings.DEBUG = settings.DEV_SECRET_KEY, True
    refuse_development_defaults()


def test_a_celery_worker_or_beat_does_not_start_on_the_embedded_key(settings):
    from celery.signals import beat_init, worker_init

    from config.celery import refuse_development_defaults

    assert refuse_development_defaults in worker_init._live_receivers(None)
    assert refuse_development_defaults in beat_init._live_receivers(None)
    settings.DEBUG = False
    # Celery carries on past an Exception raised by a signal handler: the refusal is a SystemExit.
    with pytest.raises(SystemExit, match="SECRET_KEY is not set"):
        refuse_development_defaults(sender=None)
    settings.SECRET_KEY = A_REAL_KEY
    settings.MEMBER_DATA_KEYS = MEMBER_KEYS["MEMBER_DATA_KEYS"]
    settings.MEMBER_INDEX_KEY = MEMBER_KEYS["MEMBER_INDEX_KEY"]
    refuse_development_defaults(sender=None)


def test_check_deploy_is_clean_in_the_production_shape():
    """What CI runs (.ci/run): warnings count as failures."""
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET", "SECURE_", "MEMBER_"))},
            "DJANGO_DEBUG": "0",
            "SECRET_KEY": A_REAL_KEY,
            **MEMBER_KEYS,
            "ALLOWED_HOSTS": "loyalty.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://loyalty.example.com",
            # Throttles and lockouts count in a cache every process shares (config.W101 otherwise).
            "CACHE_URL": "redis://127.0.0.1:6379/1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.django_db
def test_production_sends_plain_http_to_https_and_https_gets_hsts(client, settings):
    settings.SECURE_SSL_REDIRECT = True  # the tests turn it off for the test client (tests/conftest.py)

    plain = client.get("/admin/login/")
    secure = client.get("/admin/login/", secure=True)
    probe = client.get("/healthz")

    assert plain.status_code == 301 and plain["Location"] == "https://testserver/admin/login/"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert secure["X-Content-Type-Options"] == "nosniff" and secure["X-Frame-Options"] == "DENY"
    assert secure["Referrer-Policy"] == "same-origin"
    assert secure.cookies["csrftoken"]["secure"] is True
    # A load balancer's probe over plain HTTP is answered, not redirected.
    assert probe.status_code in (200, 503)
