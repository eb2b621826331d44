import os
from dataclasses import dataclass

import pytest
from django.db import connection

from tests.factories import StaffFactory, StoreFactory

# The `keys` fixture: fixed member data keys for the tests that rotate them.
pytest_plugins = ["tests.member_keys"]


def pytest_report_header(config):
    return f"database: {os.environ.get('DATABASE_URL', 'sqlite (embedded default)').split('@')[-1]}"


@pytest.fixture(scope="session", autouse=True)
def _database_is_what_ci_asked_for(django_db_setup, django_db_blocker):
    # CI sets REQUIRE_POSTGRES so a missing DATABASE_URL fails the run instead of testing SQLite.
    if os.environ.get("REQUIRE_POSTGRES"):
        with django_db_blocker.unblock():
            assert connection.vendor == "postgresql", "CI must test on PostgreSQL"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The personas are created for most tests; the real PBKDF2 would make each take a second.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _plain_http():
    # With DEBUG off (as in tests) production redirects plain HTTP to HTTPS; the test client and the live
    # server speak plain HTTP. Session-wide, before the live server builds its middleware once for all.
    # tests/config/test_production.py tests the redirect itself.
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _queries_logged_as_in_make_run():
    # `make run` serves with DEBUG on, whose query log formats every statement with its parameters: SQL
    # that only fails there (a literal % beside parameters) must fail the tests too.
    from django.db import connections

    for alias in connections:
        connections[alias].force_debug_cursor = True
    yield
    for alias in connections:
        connections[alias].force_debug_cursor = False


# The registries the apps fill from ready() (DESIGN §3: calls "upwards" go through them). A test may
# replace an entry; the next test, in whatever order or xdist worker, must find the apps' own again.
_REGISTRIES = [
    ("campaigns.churn", "_sources"),
    ("campaigns.segments", "_score_sources"),
    ("members.admin", "_extra_list_filters"),
    ("members.exports", "_sources"),
    ("members.exports", "_columns"),
    ("members.export_jobs", "_kinds"),
    ("members.export_jobs", "_selections"),
    ("members.member360", "_sections"),
    ("members.member360", "_extenders"),
    ("members.services", "_profile_saved_hooks"),
    ("members.services", "_registered_hooks"),
    ("servicecards.services.confirmation", "_senders"),
    ("stores.tablet", "_menu_entries"),
    ("stores.tablet", "_menu_badges"),
]


@pytest.fixture(autouse=True)
def _registries_restored():
    import copy
    import importlib

    saved = []
    for module_name, name in _REGISTRIES:
        registry = getattr(importlib.import_module(module_name), name)
        saved.append((registry, copy.deepcopy(registry)))
    yield
    for registry, before in saved:
        if isinstance(registry, dict):
            registry.clear()
            registry.update(before)
        else:
            registry[:] = before


@pytest.fixture(autouse=True)
def _throttles_count_from_zero():
    # API throttles count in the cache, by user id and address, which the next test reuses.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings):
    # Production serves a hashed manifest built by collectstatic; tests render pages without one.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


# Tests that need PostgreSQL (row locks, advisory locks, COPY) carry the `postgres` marker; on SQLite they
# are skipped with the reason, and CI's SQLite run deselects them with `-m "not postgres and not browser"`.
postgres_only = pytest.mark.postgres


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL); SQLite cannot run this test")
    # A live server on SQLite's shared in-memory test database locks tables between the server's thread and
    # the test's ("database table is locked", now and then): the browser tests run on PostgreSQL only.
    skip_browser = pytest.mark.skip(reason="browser tests run on PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)
        elif item.get_closest_marker("browser"):
            item.add_marker(skip_browser)


@dataclass
class Chain:
    store_a: object
    store_b: object
    hq_admin: object
    marketer: object
    manager_a: object
    cashier_a: object
    cashier_b: object


@pytest.fixture
def store_a(db):
    return StoreFactory(code="SH001", name="上海徐汇店")


@pytest.fixture
def store_b(db):
    return StoreFactory(code="BJ001", name="北京朝阳店")


@pytest.fixture
def chain(store_a, store_b) -> Chain:
    """The personas of DESIGN §8."""
    return Chain(
        store_a=store_a,
        store_b=store_b,
        hq_admin=StaffFactory(username="hq_admin", role="hq_admin"),
        marketer=StaffFactory(username="marketer", role="hq_marketer"),
        manager_a=StaffFactory(username="manager_a", role="store_manager", stores=[store_a]),
        cashier_a=StaffFactory(username="cashier_a", role="cashier", stores=[store_a]),
        cashier_b=StaffFactory(username="cashier_b", role="cashier", stores=[store_b]),
    )


@pytest.fixture
def celery_broker(settings):
    """As in production: a broker is configured, so background work is a Celery task (run eagerly here,
    also when CI points CELERY_BROKER_URL at a real Redis that no worker listens to)."""
    from config.celery import app

    settings.BROKER_CONFIGURED = True
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def at_till(client):
    """at_till(user, store) → the test client logged in on a tablet working at `store`, in English."""

    def _at(user, store=None):
        client.force_login(user)
        if store is not None:
            session = client.session
            session["tablet_store_id"] = store.pk
            session.save()
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return _at
