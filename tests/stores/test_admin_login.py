"""The back office's login: store staff who type their own password are sent to the tablet, in their
language; nothing changes for a wrong password or for anyone else."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
HQ_ONLY = {
    "zh-hans": "后台仅供总部人员使用，店长和收银员请使用门店平板。",
    "en": "The back office is for HQ staff. Store managers and cashiers work on the store tablet.",
}
WRONG = {"zh-hans": "请输入一个正确的", "en": "Please enter the correct"}


def log_in(client, username, password, language):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        HTTP_ACCEPT_LANGUAGE=language,
    )


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("persona", ["cashier_a", "manager_a"])
def test_store_staff_with_the_right_password_are_sent_to_the_tablet(client, chain, persona, language):
    response = log_in(client, getattr(chain, persona).username, PASSWORD, language)

    assert response.status_code == 200
    page = response.content.decode()
    assert HQ_ONLY[language] in page
    assert '<a href="/tablet/">' in page
    assert WRONG[language] not in page
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_wrong_password_is_answered_as_before_whoever_the_login_belongs_to(client, chain, language):
    for username in ("cashier_a", "hq_admin", "nobody"):
        page = log_in(client, username, "wrong-password", language).content.decode()

        assert WRONG[language] in page
        assert HQ_ONLY[language] not in page


def test_a_login_without_any_role_is_answered_as_before(client, db):
    get_user_model().objects.create_user("roleless", password=PASSWORD)

    page = log_in(client, "roleless", PASSWORD, "en").content.decode()

    assert WRONG["en"] in page
    assert HQ_ONLY["en"] not in page


def test_hq_staff_still_log_in(client, chain):
    response = log_in(client, "marketer", PASSWORD, "en")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_store_staff_already_signed_in_on_the_tablet_are_shown_the_way_there(client, chain, language):
    client.force_login(chain.cashier_a)

    response = client.get("/admin/", HTTP_ACCEPT_LANGUAGE=language, follow=True)

    assert response.redirect_chain[-1][0].startswith("/admin/login/")
    page = response.content.decode()
    assert HQ_ONLY[language] in page
    assert '<a href="/tablet/">' in page
