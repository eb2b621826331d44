"""A tablet has no address bar: every error page under /tablet/ leads back to the till with a 48 px
button; the back office's error pages stay as they were."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory
from django.urls import reverse

from config.api import bad_request, permission_denied

pytestmark = pytest.mark.django_db

BACK_TO_THE_TILL = 'id="back-to-till" href="/tablet/"'


@pytest.fixture
def crashing(settings):
    settings.ROOT_URLCONF = "tests.browser.crash_urls"
    return Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-hans")


def test_an_unknown_tablet_address_leads_back_to_the_till(client):
    response = client.get("/tablet/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert response.status_code == 404
    page = response.content.decode()
    assert BACK_TO_THE_TILL in page
    assert "返回收银台" in page


def test_a_crash_on_the_tablet_leads_back_to_the_till(crashing):
    response = crashing.get("/tablet/crash/")

    assert response.status_code == 500
    assert BACK_TO_THE_TILL in response.content.decode()


def test_a_refusal_or_a_bad_request_on_the_tablet_leads_back_to_the_till(db):
    request = RequestFactory().get("/tablet/sales/1/")

    refused = permission_denied(request, PermissionDenied("Not at this store."))
    bad = bad_request(request)

    assert (refused.status_code, bad.status_code) == (403, 400)
    assert "Not at this store." in refused.content.decode()
    assert BACK_TO_THE_TILL in refused.content.decode()
    assert BACK_TO_THE_TILL in bad.content.decode()


def test_the_tablets_own_refusals_lead_back_to_the_till(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    not_allowed = client.get(reverse("tablet:today"))
    unknown = client.get(reverse("tablet:member", args=["0000000000"]))

    assert (not_allowed.status_code, unknown.status_code) == (403, 404)
    assert b"<h1>Not allowed</h1>" in not_allowed.content
    assert b"<h1>Not found</h1>" in unknown.content
    for response in (not_allowed, unknown):
        assert BACK_TO_THE_TILL in response.content.decode()


def test_the_back_offices_error_pages_do_not_offer_the_till(client, crashing):
    assert "back-to-till" not in client.get("/no-such-page/").content.decode()
    crashed = crashing.get("/back-office-crash/")
    assert crashed.status_code == 500
    assert "back-to-till" not in crashed.content.decode()
    assert "back-to-till" not in permission_denied(RequestFactory().get("/admin/"), PermissionDenied()).content.decode()
