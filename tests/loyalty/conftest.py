import uuid
from decimal import Decimal

import pytest

from loyalty.services import LineInput, TenderInput, sale_checkout
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory


@pytest.fixture
def policy(db):
    return LoyaltySettingsFactory()


@pytest.fixture
def base_rule(db):
    return EarningRuleFactory(points_per_yuan=Decimal("1.00"))


@pytest.fixture
def member(db):
    return MemberFactory(phone="13800138000", name="王芳")


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def sell(chain, policy, base_rule):
    """Ring up a sale at store A as cashier A: sell(member, 100, cash=100, points=0, stored_value=0)."""

    def _sell(member, amount, *, points=0, request_id=None, category="饮品", **tenders):
        tender_list = [TenderInput(kind, Decimal(str(v))) for kind, v in tenders.items() if v]
        return sale_checkout(
            request_id=request_id or rid(),
            store=chain.store_a,
            cashier=chain.cashier_a,
            member=member,
            lines=[LineInput(category=category, quantity=Decimal("1"), unit_price=Decimal(str(amount)))],
            tenders=tender_list,
            points_to_redeem=points,
        )

    return _sell
