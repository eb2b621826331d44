import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_when_the_database_answers(client, settings):
    settings.BROKER_CONFIGURED = False
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "in-process"}


def test_healthz_checks_the_configured_broker(client, settings):
    from config.celery import app

    if not settings.BROKER_CONFIGURED:
        pytest.skip("no CELERY_BROKER_URL set; CI sets it to the local Redis")
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["broker"] == "ok"
    assert app.conf.broker_url.startswith(("redis://", "amqp://"))


def test_healthz_answers_503_when_the_broker_is_unreachable(client, settings):
    settings.BROKER_CONFIGURED = True
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert response.json()["database"] == "ok"


def test_healthz_answers_503_when_the_database_fails(client, monkeypatch):
    from config import health

    monkeypatch.setattr(health, "_database_ok", lambda: False)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error"
