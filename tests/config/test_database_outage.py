"""While the database cannot be reached every path answers 503 with Retry-After, never a crash (500):
JSON in the API's error format (the tablet keeps its sales queued and sends them again), a page in the
tablet (back to the till) and the back office. The outage is a cursor that raises, as psycopg does when
PostgreSQL refuses or drops the connection; PostgreSQL itself keeps running."""

import re
import uuid
from contextlib import contextmanager

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from config.api import server_error

pytestmark = pytest.mark.django_db

REFUSED = 'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
BACK_TO_THE_TILL = 'id="back-to-till" href="/tablet/"'


@pytest.fixture
def database_down(monkeypatch):
    """database_down() → a context in which every query fails as when the server is unreachable."""

    @contextmanager
    def down(error=OperationalError):
        def refuse(self, *args, **kwargs):
            raise error(REFUSED)

        with monkeypatch.context() as patch:
            patch.setattr(BaseDatabaseWrapper, "_cursor", refuse)
            yield

    return down


def assert_service_unavailable_json(response):
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "code": "service_unavailable",
        "message": "The database cannot be reached just now. Try again in a moment.",
        "field": None,
    }


def test_a_sale_sent_during_an_outage_is_answered_503_with_retry_after(chain, database_down):
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(chain.cashier_a)
    sale = {
        "request_id": str(uuid.uuid4()),
        "store": "SH001",
        "member": "13800138000",
        "lines": [{"category": "饮品", "quantity": "1", "unit_price": "30.00"}],
        "tenders": [{"kind": "cash", "amount": "30.00"}],
    }

    with database_down():
        response = api.post("/api/v1/sales/", sale, format="json")

    assert_service_unavailable_json(response)


# The session is read before the view (the session timeouts): a failure there reaches Django's 500
# handler, as in production, and the test client must not raise it instead of answering.


def test_an_api_call_whose_login_cannot_be_read_is_answered_503(chain, database_down):
    client = Client(HTTP_ACCEPT_LANGUAGE="en", raise_request_exception=False)
    client.force_login(chain.cashier_a)

    with database_down(InterfaceError):
        response = client.get("/api/v1/members/13800138000/")

    assert_service_unavailable_json(response)


def test_the_tablet_shows_a_page_that_leads_back_to_the_till(at_till, chain, database_down):
    client = at_till(chain.cashier_a, chain.store_a)
    client.raise_request_exception = False

    with database_down():
        response = client.get("/tablet/")

    assert response.status_code == 503 and response["Retry-After"] == "30"
    page = response.content.decode()
    assert "<h1>Please try again shortly</h1>" in page and BACK_TO_THE_TILL in page


def test_the_back_office_shows_a_page_in_chinese(client, chain, database_down):
    client.force_login(chain.hq_admin)
    client.raise_request_exception = False

    with database_down():
        response = client.get("/admin/members/member/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 503 and response["Retry-After"] == "30"
    page = response.content.decode()
    assert "请稍后再试" in page and "back-to-till" not in page


def test_what_fails_outside_a_view_is_answered_503_too():
    """A middleware that saves the session when the database is gone reaches Django's 500 handler."""
    for path, api in (("/api/v1/sales/", True), ("/tablet/", False), ("/admin/", False)):
        try:
            raise OperationalError(REFUSED)
        except OperationalError:
            response = server_error(RequestFactory().get(path))
        assert response.status_code == 503 and response["Retry-After"] == "30"
        assert (response["Content-Type"] == "application/json") is api


def test_healthz_says_the_database_is_down(client, settings, database_down):
    settings.BROKER_CONFIGURED = False

    with database_down():
        response = client.get("/healthz")

    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response.json() == {"status": "error", "database": "error", "broker": "in-process"}


def test_other_crashes_are_still_500(settings):
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = server_error(RequestFactory().get("/api/v1/sales/"))
    assert response.status_code == 500


def _every_route():
    """Every URL of the project whose pattern is a route (admin, tablet, API …), with 1 for each parameter."""

    def walk(patterns, prefix):
        for pattern in patterns:
            route = str(pattern.pattern)
            if route.startswith("^"):
                continue  # the admin's few regular expressions (app index, catch-all): reached by the rest
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + route)
            elif isinstance(pattern, URLPattern):
                yield "/" + re.sub(r"<(?:\w+:)?\w+>", "1", prefix + route)

    return sorted(set(walk(get_resolver().url_patterns, "")))


def test_no_page_or_api_answers_500_while_the_database_is_down(client, chain, database_down):
    """The whole class: every route, as a logged-in HQ admin, answers without a crash."""
    routes = _every_route()
    assert len(routes) > 100 and "/api/v1/sales/" in routes and "/tablet/" in routes
    client.force_login(chain.hq_admin)
    client.raise_request_exception = False
    unavailable = []

    with database_down():
        for route in routes:
            response = client.get(route, HTTP_ACCEPT_LANGUAGE="en")
            assert response.status_code != 500, route
            if response.status_code == 503:
                assert response["Retry-After"] == "30", route
                unavailable.append(route)

    assert "/admin/members/member/" in unavailable and "/api/v1/sales/" in unavailable
