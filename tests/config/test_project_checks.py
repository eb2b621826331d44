import re
from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_manage_check_is_clean():
    out = StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()


def test_models_and_migrations_agree():
    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())


def test_deploy_check_refuses_the_embedded_secret_key(settings):
    from django.core.management.base import SystemCheckError

    settings.DEBUG = False
    with pytest.raises(SystemCheckError, match="SECRET_KEY"):
        call_command("check", "--deploy", "--fail-level", "ERROR", stdout=StringIO(), stderr=StringIO())


def test_the_api_docs_load_nothing_from_a_cdn(client, django_user_model):
    user = django_user_model.objects.create_user("reader", password="x", is_staff=True)
    client.force_login(user)
    page = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    assert not re.search(r"https?://(cdn|unpkg|cdnjs)", page)
    assert client.get("/api/v1/schema/").status_code == 200


def test_the_root_sends_people_to_the_back_office(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/")
