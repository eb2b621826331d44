"""Shared set-up of the benchmarks: a dedicated PostgreSQL database, migrated, Django configured."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCH_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench"


def django_on_bench_database(url: str | None = None, *, fresh: bool = False) -> str:
    """Point Django at the bench database (BENCH_DATABASE_URL), create and migrate it; returns the URL."""
    import psycopg

    url = url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_URL)
    server, _slash, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    # The benchmarks talk plain HTTP to the server they start (production would redirect it to HTTPS).
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    # Pages are rendered in-process without collectstatic's manifest.
    settings.STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url
