import uuid
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.services import TenderInput
from servicecards.services.cards import card_sell, card_use
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.factories.servicecards import (
    CardProductFactory,
    RoomFactory,
    ServiceFactory,
    ServiceStaffFactory,
    WorkingHoursFactory,
)


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def policy(db):
    return LoyaltySettingsFactory()


@pytest.fixture
def base_rule(db):
    return EarningRuleFactory(points_per_yuan=Decimal("1.00"))


@pytest.fixture
def member(db):
    return MemberFactory(phone="13800138000", name="王芳")


@pytest.fixture
def wash(db):
    return ServiceFactory(code="WASH", name="洗护", duration_minutes=60, price=Decimal("88.00"))


@pytest.fixture
def wash_card(wash):
    """10 次洗护卡 ¥680 买10送2, valid 12 months from purchase."""
    return CardProductFactory(
        code="WASH10", name="10次洗护卡", uses=Decimal(10), bonus_uses=Decimal(2), services=[wash]
    )


@pytest.fixture
def sell_card(chain, policy, base_rule):
    """sell_card(member, product) → the CardSale, paid in cash at store A by cashier A."""

    def _sell(member, product, *, request_id=None, store=None, cashier=None, **tenders):
        tenders = tenders or {"cash": product.price}
        return card_sell(
            request_id=request_id or rid(),
            store=store or chain.store_a,
            cashier=cashier or chain.cashier_a,
            member=member,
            product=product,
            tenders=[TenderInput(kind, Decimal(str(v))) for kind, v in tenders.items()],
        )

    return _sell


@pytest.fixture
def use_card(chain):
    """use_card(card, service) → the use entry recorded at store A by cashier A."""

    def _use(card, service, *, uses=Decimal(1), request_id=None, store=None, actor=None, **extra):
        return card_use(
            request_id=request_id or rid(),
            card=card,
            store=store or chain.store_a,
            actor=actor or chain.cashier_a,
            service=service,
            uses=uses,
            **extra,
        )

    return _use


def at(day, hour: int, minute: int = 0) -> datetime:
    """`day` at hour:minute, China time."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@pytest.fixture
def day():
    """A day next week (China time): every slot of it is in the future."""
    return timezone.localdate() + timedelta(days=7)


@pytest.fixture
def facial(db):
    return ServiceFactory(code="FACIAL", name="面部护理", duration_minutes=60)


def therapist_at(store, services, *, weekdays=range(7), starts=time(9), ends=time(18)):
    staff = ServiceStaffFactory(services=services)
    for weekday in weekdays:
        WorkingHoursFactory(staff=staff, store=store, weekday=weekday, starts=starts, ends=ends)
    return staff


@pytest.fixture
def therapist(chain, facial):
    """Works at store A every day 09:00–18:00 and performs the facial."""
    return therapist_at(chain.store_a, [facial])


@pytest.fixture
def room_a(chain):
    return RoomFactory(store=chain.store_a, name="1号房")
