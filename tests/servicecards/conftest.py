import uuid
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from tests.factories.servicecards import RoomFactory, ServiceFactory, ServiceStaffFactory, WorkingHoursFactory


def rid() -> str:
    return str(uuid.uuid4())


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
