"""Members' rights tests' shared cast: 王芳 with a month-old history (tests/members/conftest.py has the
fixtures), and how she buys, tops up and is erased."""

import uuid
from decimal import Decimal

from loyalty.services import LineInput, TenderInput, sale_checkout, wallet_top_up
from members.erasure import erase_member
from tests.factories.loyalty import RechargePackageFactory

D = Decimal
PHONE = "+8613912345678"


def rid() -> str:
    return str(uuid.uuid4())


def buy(chain, member, amount="100.00", **tenders):
    return sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput(category="饮品", quantity=D("1"), unit_price=D(amount))],
        tenders=[TenderInput(kind, D(value)) for kind, value in (tenders or {"cash": amount}).items()],
    )


def top_up(chain, member):
    return wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="mobile",
        package=RechargePackageFactory(),
    )


def erase(member, by, **kwargs):
    return erase_member(member=member, by=by, reason="会员书面申请注销 2026-12-01", **kwargs)
