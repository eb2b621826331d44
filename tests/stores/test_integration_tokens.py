"""Integration tokens (issue 16, item 4): kept only as their digest, shown once when HQ makes them, expiring,
revocable one by one, with the time each was last used; DRF's plain-text tokens are retired."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from stores.models import AuditEntry, IntegrationToken
from stores.selectors import done_in_person
from stores.services import audit_record, integration_token_revoke
from tests.factories import MemberFactory, StaffFactory
from tests.factories.stores import integration_token

pytestmark = pytest.mark.django_db

TOKENS = "/admin/stores/integrationtoken/"


@pytest.fixture
def pos(chain):
    return StaffFactory(username="pos_link", role="store_manager", stores=[chain.store_a])


@pytest.fixture
def member(db):
    return MemberFactory(phone="13800138000", name="王芳")


def call_with(token: str, member) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(f"/api/v1/members/{member.code}/")


def test_a_token_is_kept_only_as_its_sha512_digest(pos):
    raw = integration_token(pos)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM stores_integrationtoken")
        [row] = cursor.fetchall()

    assert len(raw) == 64
    assert not any(raw in str(value) for value in row)
    assert IntegrationToken.objects.get().digest == hashlib.sha512(raw.encode()).hexdigest()
    assert IntegrationToken.objects.get().token_key == raw[:15]


def test_a_token_works_until_it_expires_and_is_then_refused_but_kept(pos, member):
    raw = integration_token(pos, days=30)
    assert call_with(raw, member).status_code == 200

    now = timezone.now()
    IntegrationToken.objects.update(created=now - timedelta(days=30), expiry=now - timedelta(seconds=1))
    response = call_with(raw, member)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert IntegrationToken.objects.count() == 1


def test_a_revoked_token_is_refused_and_the_integrations_other_tokens_go_on(pos, member):
    first, second = integration_token(pos, name="线上商城"), integration_token(pos, name="小程序")

    integration_token_revoke(actor=None, token=IntegrationToken.objects.get(name="线上商城"), reason="泄露")

    assert call_with(first, member).status_code == 401
    assert call_with(second, member).status_code == 200
    entry = AuditEntry.objects.get(action="integration_token.revoked")
    assert (entry.reason, entry.data["name"]) == ("泄露", "线上商城")


def test_the_last_use_is_recorded_at_most_once_a_minute(pos, member):
    raw = integration_token(pos)
    token = IntegrationToken.objects.get()
    assert token.last_used_at is None

    call_with(raw, member)
    token.refresh_from_db()
    first_use = token.last_used_at
    call_with(raw, member)
    token.refresh_from_db()
    assert token.last_used_at == first_use

    IntegrationToken.objects.update(last_used_at=first_use - timedelta(minutes=2))
    call_with(raw, member)
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(minutes=1)


def test_hq_makes_a_token_in_the_back_office_and_sees_it_only_once(client, chain, pos, member):
    client.force_login(chain.hq_admin)

    made = client.post(f"{TOKENS}add/", {"user": pos.pk, "name": "线上商城", "days": "90"})

    assert made.status_code == 200
    raw = re.search(r'id="new-token"[^>]*>([0-9a-f]{64})<', made.content.decode()).group(1)
    assert call_with(raw, member).status_code == 200
    token = IntegrationToken.objects.get()
    assert (token.user, token.created_by, token.name) == (pos, chain.hq_admin, "线上商城")
    assert timedelta(days=89) < token.expiry - timezone.now() <= timedelta(days=90)
    listing = client.get(TOKENS).content.decode()
    page = client.get(f"{TOKENS}{token.pk}/change/").content.decode()
    assert f"{raw[:15]}…" in listing
    assert raw not in listing and raw not in page
    entry = AuditEntry.objects.get(action="integration_token.created")
    assert (entry.actor, entry.data["starts_with"]) == (chain.hq_admin, raw[:15])


def test_hq_revokes_a_token_in_the_back_office(client, chain, pos, member):
    raw = integration_token(pos)
    client.force_login(chain.hq_admin)

    client.post(TOKENS, {"action": "revoke", "_selected_action": [IntegrationToken.objects.get().pk]})

    assert IntegrationToken.objects.get().revoked_at is not None
    assert call_with(raw, member).status_code == 401
    assert AuditEntry.objects.get(action="integration_token.revoked").actor == chain.hq_admin


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_back_office_asks_for_a_name_and_a_sensible_lifetime(client, chain, pos, language):
    client.force_login(chain.hq_admin)

    page = client.post(
        f"{TOKENS}add/", {"user": pos.pk, "name": " ", "days": "3650"}, HTTP_ACCEPT_LANGUAGE=language
    ).content.decode()

    assert not IntegrationToken.objects.exists()
    assert {"zh-hans": "该字段是必填项", "en": "This field is required"}[language] in page
    assert {"zh-hans": "确保该值小于或等于366", "en": "less than or equal to 366"}[language] in page


@pytest.mark.parametrize("persona", ["marketer", "manager_a"])
def test_only_the_hq_admin_sees_and_makes_tokens(client, chain, pos, persona):
    integration_token(pos)
    client.force_login(getattr(chain, persona))

    assert client.get(TOKENS).status_code in (302, 403)
    client.post(f"{TOKENS}add/", {"user": pos.pk, "name": "后门", "days": "90"})

    assert IntegrationToken.objects.count() == 1


def test_an_account_whose_tokens_are_revoked_stays_an_integrations(chain, pos):
    integration_token(pos)
    integration_token_revoke(actor=None, token=IntegrationToken.objects.get())
    audit_record(actor=pos, action="test.done")
    audit_record(actor=chain.cashier_a, action="test.done")

    done = AuditEntry.objects.filter(done_in_person("actor"), action="test.done")

    assert [e.actor for e in done] == [chain.cashier_a]


def test_drfs_plain_text_tokens_stop_working_and_leave_a_revoked_mark(pos, member):
    import importlib

    from django.apps import apps

    retire = importlib.import_module("stores.migrations.0005_retire_plaintext_tokens").retire_plaintext_tokens
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE authtoken_token ("key" varchar(40) PRIMARY KEY, created timestamp, user_id integer)'
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", ["a" * 40, timezone.now(), pos.pk])

    class Editor:
        def __init__(self):
            self.connection = connection

        def execute(self, sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    retire(apps, Editor())

    assert "authtoken_token" not in connection.introspection.table_names()
    token = IntegrationToken.objects.get()
    assert token.user == pos and token.revoked_at is not None
    assert call_with("a" * 40, member).status_code == 401
    assert call_with("legacy", member).status_code == 401
