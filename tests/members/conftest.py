import pytest
from django.utils import timezone

from tests.factories import MemberFactory
from tests.factories.campaigns import CouponFactory, MessageFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.factories.members import TagFactory
from tests.loyalty.clock import Clock
from tests.members.rights import PHONE, D, buy, top_up


@pytest.fixture(autouse=True)
def _english_for_import_and_export(request, settings):
    """The import and export tests read the English messages; the chain's default language is Chinese."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    if not name.startswith(("test_import_", "test_export_")):
        yield
        return
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


# --- members' rights (tests/members/rights.py) -------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, timezone.now())


@pytest.fixture
def fang(chain):
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=D("1.00"))
    return MemberFactory(
        phone=PHONE,
        name="王芳",
        email="fang@example.cn",
        address="上海市徐汇区漕溪北路1号",
        notes="喜欢拿铁",
        tags=[TagFactory(name="王总的朋友")],
        marketing_consent=True,
        store=chain.store_a,
    )


@pytest.fixture
def fang_with_history(chain, fang, clock):
    """Fang topped up 充500送50, bought twice (once with stored value) a month ago, holds a coupon and
    has a message waiting to be sent."""
    clock.advance(days=-40)
    top_up(chain, fang)
    buy(chain, fang, "100.00")
    buy(chain, fang, "55.00", stored_value="55.00")
    clock.advance(days=40)
    CouponFactory(member=fang)
    MessageFactory(member=fang)
    return fang
