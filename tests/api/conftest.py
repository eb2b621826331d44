import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from loyalty.models import PointsAccount, PointsEntry, Refund, Sale, SaleLine, TopUp, Wallet, WalletEntry
from members.models import Member
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, TierFactory

LEDGER_MODELS = (Member, Sale, SaleLine, Refund, TopUp, PointsAccount, PointsEntry, Wallet, WalletEntry, AuditEntry)


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user(api):
    """as_user(chain.cashier_a) → an APIClient logged in as that person."""

    def _as(user) -> APIClient:
        api.force_authenticate(user)
        return api

    return _as


@pytest.fixture
def policy(db):
    return LoyaltySettingsFactory()


@pytest.fixture
def base_rule(db):
    return EarningRuleFactory(points_per_yuan=Decimal("1.00"))


@pytest.fixture
def tiers(db):
    return [
        TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00")),
        TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00")),
    ]


@pytest.fixture
def member(db, policy, base_rule):
    return MemberFactory(phone="13800138000", name="王芳")


@dataclass
class Snapshot:
    counts: dict

    def assert_unchanged(self) -> None:
        assert ledger_counts() == self.counts


def ledger_counts() -> dict:
    return {model.__name__: model.objects.count() for model in LEDGER_MODELS}


@pytest.fixture
def snapshot():
    """snapshot() now, then .assert_unchanged() after the request: nothing was written."""
    return lambda: Snapshot(ledger_counts())


def assert_error(response, status: int, code: str, field=...) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "field"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    if field is not ...:
        assert body["field"] == field, body
    return body


def sale_payload(store="SH001", member=None, amount="100.00", **overrides) -> dict:
    payload = {
        "request_id": rid(),
        "store": store,
        "member": member,
        "lines": [{"category": "饮品", "quantity": "1", "unit_price": amount}],
        "tenders": [{"kind": "cash", "amount": amount}],
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def sell(chain, as_user, policy, base_rule):
    """sell(member_code, "100.00", user=chain.cashier_a, **payload overrides) → the response."""

    def _sell(member_ref=None, amount="100.00", *, user=None, **overrides):
        client = as_user(user or chain.cashier_a)
        return client.post("/api/v1/sales/", sale_payload(member=member_ref, amount=amount, **overrides), format="json")

    return _sell
