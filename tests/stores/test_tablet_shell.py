"""The tablet's shell: logging in at the till, the store it works at, the menu by role, what it keeps offline."""

import pytest
from django.urls import reverse

from stores.tablet import STORE_COOKIE, STORE_SESSION_KEY
from tests.factories import StaffFactory, StoreFactory

pytestmark = pytest.mark.django_db


def _log_in(client, username, password="correct-horse-battery", **extra):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client.post(reverse("tablet:login"), {"username": username, "password": password, **extra})


def test_a_cashier_of_one_store_logs_in_straight_to_finding_members(client, chain):
    response = _log_in(client, "cashier_a")

    assert response.status_code == 302
    assert response.url == reverse("tablet:find")
    assert client.session[STORE_SESSION_KEY] == chain.store_a.pk
    assert response.cookies[STORE_COOKIE].value == chain.store_a.code


def test_staff_of_several_stores_choose_one_and_the_tablet_remembers_it(client, chain):
    manager = StaffFactory(username="manager_ab", role="store_manager", stores=[chain.store_a, chain.store_b])

    first = _log_in(client, manager.username)
    assert first.url.startswith(reverse("tablet:choose-store"))
    chosen = client.post(reverse("tablet:choose-store"), {"store": chain.store_b.pk, "next": reverse("tablet:sell")})
    assert chosen.url == reverse("tablet:sell")
    client.post(reverse("tablet:logout"))

    again = _log_in(client, manager.username)

    assert again.url == reverse("tablet:find")
    assert client.session[STORE_SESSION_KEY] == chain.store_b.pk


def test_a_cashier_cannot_choose_a_store_they_do_not_serve(client, chain):
    _log_in(client, "cashier_a")

    response = client.post(reverse("tablet:choose-store"), {"store": chain.store_b.pk})

    assert response.status_code == 200
    assert b"Choose one of your stores." in response.content
    assert client.session[STORE_SESSION_KEY] == chain.store_a.pk


def test_a_marketer_does_not_use_the_tablet(client, chain):
    response = _log_in(client, "marketer")

    assert response.status_code == 200
    assert b"Your role does not use the store tablet." in response.content
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_says_so_and_logs_nobody_in(client, chain):
    response = _log_in(client, "cashier_a", password="wrong")

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_pages_send_a_visitor_who_is_not_logged_in_to_the_tablet_login(client, db):
    response = client.get(reverse("tablet:sell"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("tablet:login"))


def test_a_cashier_cannot_reach_the_admin(client, chain):
    client.force_login(chain.cashier_a)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert "login" in response.url


def test_a_store_that_closed_since_the_login_sends_its_staff_to_choose_again(at_till, chain):
    manager = StaffFactory(username="manager_ab", role="store_manager", stores=[chain.store_a, chain.store_b])
    client = at_till(manager, chain.store_a)
    chain.store_a.is_active = False
    chain.store_a.save(update_fields=["is_active"])

    response = client.get(reverse("tablet:find"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("tablet:choose-store"))


def test_the_menu_shows_what_the_role_may_do(at_till, chain):
    cashier_menu = at_till(chain.cashier_a, chain.store_a).get(reverse("tablet:find")).context["tablet"]["menu"]
    manager_menu = at_till(chain.manager_a, chain.store_a).get(reverse("tablet:find")).context["tablet"]["menu"]

    cashier_urls = {item["url"] for item in cashier_menu}
    manager_urls = {item["url"] for item in manager_menu}
    assert reverse("tablet:sell") in cashier_urls
    assert reverse("tablet:today") not in cashier_urls
    assert reverse("tablet:reviews") not in cashier_urls
    assert {reverse("tablet:today"), reverse("tablet:reviews")} <= manager_urls


def test_a_cashier_is_refused_the_managers_pages(at_till, chain):
    client = at_till(chain.cashier_a, chain.store_a)

    assert client.get(reverse("tablet:today")).status_code == 403
    assert client.get(reverse("tablet:reviews")).status_code == 403


def test_the_service_worker_keeps_the_pages_a_till_needs_offline(client, db):
    response = client.get(reverse("tablet:service-worker"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    for name in ("tablet:find", "tablet:sell", "tablet:offline"):
        assert f'"{reverse(name)}"' in body
    assert "/static/tablet/sell.js" in body


def test_the_login_page_works_in_chinese(client, db):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"

    response = client.get(reverse("tablet:login"))

    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_an_unknown_store_in_the_device_cookie_is_ignored(client, chain):
    client.cookies[STORE_COOKIE] = StoreFactory(code="ZZ999", is_active=False).code
    manager = StaffFactory(username="manager_ab", role="store_manager", stores=[chain.store_a, chain.store_b])

    response = _log_in(client, manager.username)

    assert response.url.startswith(reverse("tablet:choose-store"))


def test_an_expired_session_during_find_as_you_type_sends_the_whole_page_to_the_login(client, db):
    response = client.post(reverse("tablet:find"), {"q": "138"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("tablet:login"))
