"""The API's schema and docs need a login (issue 16, item 10): HQ staff in the back office, or an
integration's token for the schema; not anyone who can reach the server, nor the tablet's cashiers."""

import pytest
from rest_framework.test import APIClient

from tests.factories.stores import integration_token

pytestmark = pytest.mark.django_db

SCHEMA, DOCS = "/api/v1/schema/", "/api/v1/docs/"


def test_nobody_reads_the_schema_or_the_docs_without_logging_in(client):
    schema = client.get(SCHEMA)
    docs = client.get(DOCS)

    assert schema.status_code == 401
    assert b"not_authenticated" in schema.content
    assert docs.status_code == 302
    assert docs["Location"].startswith("/admin/login/")


def test_a_cashier_on_the_tablet_does_not_read_them(client, chain):
    client.force_login(chain.cashier_a)

    assert client.get(SCHEMA).status_code == 403
    assert client.get(DOCS).status_code == 302


@pytest.mark.parametrize("persona", ["hq_admin", "marketer"])
def test_hq_staff_read_the_schema_and_the_docs(client, chain, persona):
    client.force_login(getattr(chain, persona))

    assert client.get(SCHEMA).status_code == 200
    assert client.get(DOCS).status_code == 200


def test_an_integration_reads_the_schema_with_its_token(chain):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {integration_token(chain.cashier_a)}")

    response = client.get(SCHEMA)

    assert response.status_code == 200
    assert b"/api/v1/sales/" in response.content
