import uuid
from decimal import Decimal

import pytest

from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout
from members.selectors import phone_prefix_q
from tests.api.conftest import api, as_user  # noqa: F401  (the API tests' clients, for the coupon and mall endpoints)
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, TierFactory
from tests.loyalty.clock import Clock, local


@pytest.fixture(autouse=True)
def _english(settings):
    """The campaigns tests read the English messages; the chain's default language is Chinese."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _outbox_file(settings, tmp_path):
    """The embedded default backend (a JSON-lines file) writes into the test's own folder."""
    settings.MESSAGE_FILE_PATH = tmp_path / "outbox.jsonl"
    settings.MESSAGE_SMS_BACKEND = "file"
    settings.MESSAGE_EMAIL_BACKEND = "file"
    settings.MESSAGE_WECHAT_BACKEND = "file"
    return settings.MESSAGE_FILE_PATH


@pytest.fixture
def outbox_file(_outbox_file):
    return _outbox_file


@pytest.fixture
def consenting(db):
    """王芳: marketing consent, a phone and an email."""
    return MemberFactory(phone="13800138000", name="王芳", email="wangfang@example.com", marketing_consent=True)


@pytest.fixture
def unconsenting(db):
    """李娜: no marketing consent."""
    return MemberFactory(phone="13900139000", name="李娜", email="lina@example.com", marketing_consent=False)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 15, 12, 0))


def many_members(count: int, *, consent: bool = True, email: bool = False, start: int = 0):
    """`count` members written in one INSERT (registering each through the service would take minutes)."""
    from django.utils import timezone

    from members.codes import new_member_codes
    from members.models import Member

    codes = list(dict.fromkeys(new_member_codes(count * 2)))[:count]
    now = timezone.now()
    Member.objects.bulk_create(
        Member(
            code=code,
            phone=f"+86137{start + i:08d}",
            name=f"会员{start + i}",
            email=f"m{start + i}@example.com" if email else "",
            marketing_consent=consent,
            consent_at=now if consent else None,
            consent_source=Member.ConsentSource.TABLET if consent else "",
        )
        for i, code in enumerate(codes)
    )
    return Member.objects.filter(phone_prefix_q("+86137"))


@pytest.fixture
def campaign(chain):
    """A draft campaign over an empty segment (what the campaigns engineer builds on)."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.models import Campaign, Segment

    segment = Segment.objects.create(name="全部会员", rules=[], created_by=chain.marketer)
    now = timezone.now()
    return Campaign.objects.create(
        name="春季焕新", segment=segment, starts_at=now, ends_at=now + timedelta(days=14), created_by=chain.marketer
    )


@pytest.fixture
def fake_provider(settings):
    """use("RecordingBackend") routes SMS to that fake; the messages it got are in fakes.SENT."""
    from tests.campaigns import fakes

    fakes.reset()

    def use(name: str, channel: str = "SMS"):
        setattr(settings, f"MESSAGE_{channel}_BACKEND", f"tests.campaigns.fakes.{name}")
        return fakes.SENT

    yield use
    fakes.reset()


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def policy(db):
    return LoyaltySettingsFactory()


@pytest.fixture
def base_rule(db):
    return EarningRuleFactory(points_per_yuan=Decimal("1.00"))


@pytest.fixture
def tiers(db):
    """普卡 (entry, no discount), 金卡 (from ¥1,000 of spend, 10 % off)."""
    return {
        "normal": TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00")),
        "gold": TierFactory(
            code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00"), discount_percent=Decimal("10.00")
        ),
    }


@pytest.fixture
def member(db, policy):
    return MemberFactory(phone="13800138000", name="王芳")


@pytest.fixture
def other_member(db, policy):
    return MemberFactory(phone="13900139000", name="李娜")


def line(category: str, amount, quantity="1") -> LineInput:
    quantity = Decimal(str(quantity))
    return LineInput(category=category, quantity=quantity, unit_price=Decimal(str(amount)) / quantity)


@pytest.fixture
def checkout(chain, policy, base_rule):
    """checkout(member, [line("饮品", 250)], coupons=[code], cash=200, store=..., channel=...) → the sale.

    `cash` is what the tenders pay; left out, the test does not know it in advance and it is worked out by
    asking the coupon applier what it takes off (so a refusal still comes from the sale itself).
    """

    def _checkout(member, lines, *, coupons=(), cash, store=None, cashier=None, channel="store", points=0, **kw):
        return sale_checkout(
            request_id=kw.get("request_id") or rid(),
            store=store or chain.store_a,
            cashier=cashier or chain.cashier_a,
            member=member,
            lines=lines,
            tenders=[TenderInput("cash", Decimal(str(cash)))] if Decimal(str(cash)) else [],
            coupon_codes=list(coupons),
            points_to_redeem=points,
            channel=channel,
        )

    return _checkout


@pytest.fixture
def give_points(chain):
    def _give(member, points: int):
        return points_adjust(request_id=rid(), member=member, points=points, reason="开户赠送", actor=chain.hq_admin)

    return _give
