"""Sessions end on the server (issue 16, item 4): a tablet's after 15 minutes without use and after 12 hours
at most, the back office's after 60 minutes without use and 12 hours. Time passes by moving the session's
own timestamps back, never by waiting."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.urls import reverse

from stores.sessions import SEEN, STARTED

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def tablet_login(client, user, language="en"):
    response = client.post(
        reverse("tablet:login"), {"username": user.username, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 302
    return client


def back_office_login(client, user):
    response = client.post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def age(client, *, idle_minutes: float = 0, since_login_minutes: float = 0) -> None:
    """As if the last request was `idle_minutes` ago and the login `since_login_minutes` ago."""
    session = SessionStore(client.session.session_key)
    session[SEEN] -= int(idle_minutes * 60)
    session[STARTED] -= int(since_login_minutes * 60)
    session.save()


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_a_tablet_session_goes_on_while_used_within_fifteen_minutes(client, chain):
    tablet_login(client, chain.cashier_a)
    age(client, idle_minutes=14, since_login_minutes=14)

    response = client.get(reverse("tablet:find"))

    assert response.status_code == 200
    assert logged_in(client)


@pytest.mark.parametrize(
    ("language", "message"),
    [("en", "You were logged out after 15 minutes without use."), ("zh-hans", "超过 15 分钟未操作，已自动退出")],
)
def test_a_tablet_session_ends_after_fifteen_minutes_without_use(client, chain, language, message):
    tablet_login(client, chain.cashier_a)
    age(client, idle_minutes=16, since_login_minutes=16)

    response = client.get(reverse("tablet:find"), HTTP_ACCEPT_LANGUAGE=language, follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("tablet:login"))
    assert message in response.content.decode()
    assert not logged_in(client)


def test_a_tablet_session_ends_after_twelve_hours_however_busy(client, chain):
    tablet_login(client, chain.cashier_a)
    age(client, idle_minutes=1, since_login_minutes=12 * 60 + 1)

    response = client.get(reverse("tablet:find"), HTTP_ACCEPT_LANGUAGE="en", follow=True)

    assert "Your login has lasted 12 hours, the longest allowed." in response.content.decode()
    assert not logged_in(client)


def test_the_tablets_api_answers_401_once_its_session_has_ended(client, chain):
    tablet_login(client, chain.cashier_a)
    age(client, idle_minutes=16)

    response = client.post("/api/v1/members/lookup/", {"q": "13800138000"}, content_type="application/json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_an_hq_admin_logged_in_on_the_tablet_gets_the_tablets_limits(client, chain):
    tablet_login(client, chain.hq_admin)
    age(client, idle_minutes=16)

    client.get(reverse("tablet:find"))

    assert not logged_in(client)


def test_the_back_office_allows_an_hour_without_use(client, chain):
    back_office_login(client, chain.marketer)
    age(client, idle_minutes=59, since_login_minutes=59)
    assert client.get("/admin/").status_code == 200
    assert logged_in(client)

    age(client, idle_minutes=61)
    response = client.get("/admin/")

    assert response.status_code == 302
    assert not logged_in(client)


def test_the_back_office_session_ends_after_twelve_hours(client, chain):
    back_office_login(client, chain.hq_admin)
    age(client, since_login_minutes=12 * 60 + 1)

    assert client.get("/admin/").status_code == 302
    assert not logged_in(client)


def test_store_staff_get_the_tablets_limits_however_they_logged_in(client, chain):
    client.force_login(chain.manager_a)
    age(client, idle_minutes=16)

    client.get(reverse("tablet:find"))

    assert not logged_in(client)


def test_a_session_from_before_the_limits_starts_counting_at_its_next_request(client, chain):
    client.force_login(chain.cashier_a)
    session = SessionStore(client.session.session_key)
    del session[SEEN], session[STARTED]
    session.save()

    client.get(reverse("tablet:find"))
    assert logged_in(client)
    age(client, idle_minutes=16)
    client.get(reverse("tablet:find"))

    assert not logged_in(client)


def test_the_last_use_is_written_to_the_session_at_most_once_a_minute(client, chain):
    tablet_login(client, chain.cashier_a)
    key = client.session.session_key
    client.get(reverse("tablet:find"))
    written = Session.objects.get(pk=key).expire_date

    client.get(reverse("tablet:find"))
    assert Session.objects.get(pk=key).expire_date == written  # not saved again

    age(client, idle_minutes=2)
    seen_before = SessionStore(key)[SEEN]
    client.get(reverse("tablet:find"))
    assert SessionStore(key)[SEEN] >= seen_before + 120


def test_logging_in_again_starts_the_clocks_again(client, chain):
    tablet_login(client, chain.cashier_a)
    age(client, idle_minutes=5, since_login_minutes=11 * 60)

    tablet_login(client, chain.cashier_a)
    age(client, since_login_minutes=2 * 60)

    client.get(reverse("tablet:find"))
    assert logged_in(client)


def test_an_integrations_call_with_a_token_makes_no_session(chain):
    from rest_framework.test import APIClient

    from tests.factories.stores import integration_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {integration_token(chain.hq_admin)}")

    assert client.post("/api/v1/members/lookup/", {"q": "13800138000"}, format="json").status_code == 200
    assert not Session.objects.exists()
