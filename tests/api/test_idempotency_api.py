"""One idempotency rule for every write with a request id (issue 16 items 6 and 7, DESIGN §10), table-driven
over every such endpoint: the same request again answers the first (200, the same body); the same request
id for another member, amount, reason or store is 409 request_id_reused; a replay answers only to whoever
may see the original. A new write endpoint with a request id gets a row in WRITES."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.urls import get_resolver

from campaigns.models import Coupon, MallOrder
from loyalty.models import PointsEntry, Refund, Sale, TopUp, WalletEntry
from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout, wallet_top_up
from stores.models import AuditEntry
from tests.api.conftest import assert_error, rid
from tests.factories import MemberFactory, StaffFactory
from tests.factories.campaigns import CouponMallItemFactory, CouponTemplateFactory

pytestmark = pytest.mark.django_db

WRITTEN = (Sale, Refund, TopUp, PointsEntry, WalletEntry, Coupon, MallOrder, AuditEntry)


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in WRITTEN}


@dataclass
class World:
    chain: object
    fang: object
    lei: object
    manager_b: object
    sale_fang: Sale
    sale_lei: Sale
    template: object
    other_template: object
    item: object
    other_item: object


@pytest.fixture
def world(chain, policy, base_rule) -> World:
    """Two members of store SH001 with points, stored value and a ¥100 sale each; a coupon template and a
    mall coupon item; and a manager at BJ001."""
    fang = MemberFactory(phone="13800138000", name="王芳")
    lei = MemberFactory(phone="13900139000", name="李雷")
    sales = []
    for member in (fang, lei):
        points_adjust(request_id=rid(), member=member, points=3000, reason="开户赠送", actor=chain.hq_admin)
        wallet_top_up(
            request_id=rid(), member=member, store=chain.store_a, staff=chain.cashier_a, tender="cash", amount=500
        )
        sales.append(
            sale_checkout(
                request_id=rid(),
                store=chain.store_a,
                cashier=chain.cashier_a,
                member=member,
                lines=[LineInput("饮品", Decimal("1"), Decimal("100.00"))],
                tenders=[TenderInput("cash", Decimal("100.00"))],
            )
        )
    return World(
        chain=chain,
        fang=fang,
        lei=lei,
        manager_b=StaffFactory(username="manager_b", role="store_manager", stores=[chain.store_b]),
        sale_fang=sales[0],
        sale_lei=sales[1],
        template=CouponTemplateFactory(),
        other_template=CouponTemplateFactory(),
        item=CouponMallItemFactory(),
        other_item=CouponMallItemFactory(),
    )


Request = tuple[str, dict]  # URL and body


@dataclass
class Write:
    name: str
    url: str  # the route's name, to check every write route has a row
    user: str  # who makes the first request: a World or Chain attribute
    first: Callable[[World], Request]
    other_member: Callable[[World, Request], Request]
    other_payloads: dict[str, Callable[[World, Request], Request]]
    # Someone who may not see the original: another store's staff, or a role without the right.
    outsider: str
    # The outsider's own version: the same request id at their own store, where the write has a store.
    outsiders_own: Callable[[World, Request], Request] | None = None


def _with(request: Request, **changes) -> Request:
    url, body = request
    return url, {**body, **changes}


def _sale(world: World) -> Request:
    body = {
        "request_id": rid(),
        "store": "SH001",
        "member": world.fang.code,
        "lines": [{"category": "饮品", "quantity": "1", "unit_price": "80.00"}],
        "tenders": [{"kind": "cash", "amount": "80.00"}],
    }
    return "/api/v1/sales/", body


def _refund_url(sale: Sale) -> str:
    return f"/api/v1/sales/{sale.pk}/refunds/"


WRITES = [
    Write(
        name="sale",
        url="loyalty-api:sale-checkout",
        user="cashier_a",
        first=_sale,
        other_member=lambda w, r: _with(r, member=w.lei.code),
        other_payloads={
            "amount": lambda w, r: _with(
                r,
                lines=[{"category": "饮品", "quantity": "1", "unit_price": "90.00"}],
                tenders=[{"kind": "cash", "amount": "90.00"}],
            ),
            "tender": lambda w, r: _with(r, tenders=[{"kind": "card", "amount": "80.00"}]),
        },
        outsider="cashier_b",
        outsiders_own=lambda w, r: _with(r, store="BJ001"),
    ),
    Write(
        name="refund",
        url="loyalty-api:sale-refund",
        user="manager_a",
        first=lambda w: (_refund_url(w.sale_fang), {"request_id": rid(), "reason": "顾客退货", "amount": "10.00"}),
        other_member=lambda w, r: (_refund_url(w.sale_lei), r[1]),
        other_payloads={
            "amount": lambda w, r: _with(r, amount="20.00"),
            "reason": lambda w, r: _with(r, reason="质量问题"),
            "lines": lambda w, r: _with(r, amount=None, lines=[{"line_no": 1, "quantity": "1"}]),
        },
        outsider="cashier_b",
        outsiders_own=lambda w, r: _with(r, store="BJ001"),
    ),
    Write(
        name="top-up",
        url="loyalty-api:wallet-topup",
        user="cashier_a",
        first=lambda w: (
            "/api/v1/wallet/topups/",
            {"request_id": rid(), "member": w.fang.code, "store": "SH001", "amount": "100.00", "tender": "cash"},
        ),
        other_member=lambda w, r: _with(r, member=w.lei.code),
        other_payloads={
            "amount": lambda w, r: _with(r, amount="200.00"),
            "tender": lambda w, r: _with(r, tender="card"),
        },
        outsider="cashier_b",
        outsiders_own=lambda w, r: _with(r, store="BJ001"),
    ),
    Write(
        name="stored-value payout",
        url="loyalty-api:wallet-refund",
        user="manager_a",
        first=lambda w: (
            "/api/v1/wallet/refunds/",
            {"request_id": rid(), "member": w.fang.code, "store": "SH001", "reason": "会员退卡"},
        ),
        other_member=lambda w, r: _with(r, member=w.lei.code),
        other_payloads={"reason": lambda w, r: _with(r, reason="搬家退卡")},
        outsider="manager_b",
        outsiders_own=lambda w, r: _with(r, store="BJ001"),
    ),
    Write(
        name="points adjustment",
        url="loyalty-api:points-adjustment",
        user="manager_a",
        first=lambda w: (
            "/api/v1/points/adjustments/",
            {"request_id": rid(), "member": w.fang.code, "points": 100, "reason": "补录漏积分", "store": "SH001"},
        ),
        other_member=lambda w, r: _with(r, member=w.lei.code),
        other_payloads={
            "points": lambda w, r: _with(r, points=200),
            "reason": lambda w, r: _with(r, reason="生日补发"),
        },
        outsider="manager_b",
        outsiders_own=lambda w, r: _with(r, store="BJ001"),
    ),
    Write(
        name="coupon issue",
        url="campaigns-api:coupon-issue",
        user="marketer",
        first=lambda w: ("/api/v1/coupons/", {"request_id": rid(), "template": w.template.pk, "member": w.fang.code}),
        other_member=lambda w, r: _with(r, member=w.lei.code),
        other_payloads={"template": lambda w, r: _with(r, template=w.other_template.pk)},
        outsider="cashier_b",
    ),
    Write(
        name="mall order",
        url="campaigns-api:mall-order",
        user="cashier_a",
        first=lambda w: (
            "/api/v1/mall/orders/",
            {"request_id": rid(), "member": w.fang.code, "item": w.item.pk, "store": "SH001"},
        ),
        other_member=lambda w, r: _with(r, member=w.lei.code),
        other_payloads={"item": lambda w, r: _with(r, item=w.other_item.pk)},
        outsider="cashier_b",
        outsiders_own=lambda w, r: _with(r, store="BJ001"),
    ),
]

REFUSALS = {(403, "forbidden"), (400, "store_mismatch"), (409, "request_id_reused")}
OTHER_PAYLOADS = [(write, name) for write in WRITES for name in write.other_payloads]


def _user(world: World, name: str):
    return getattr(world, name, None) or getattr(world.chain, name)


def _post(as_user, world: World, user: str, request: Request):
    url, body = request
    return as_user(_user(world, user)).post(url, body, format="json")


def _first(as_user, world: World, write: Write) -> tuple[Request, dict]:
    request = write.first(world)
    response = _post(as_user, world, write.user, request)
    assert response.status_code == 201, response.content
    return request, response.json()


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)
def test_the_same_request_again_answers_the_first_with_200(as_user, world, write):
    request, first = _first(as_user, world, write)
    before = counts()

    again = _post(as_user, world, write.user, request)

    assert again.status_code == 200, again.content
    assert again.json() == first
    assert counts() == before


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)
def test_the_same_request_id_for_another_member_is_refused(as_user, world, write):
    request, _first_answer = _first(as_user, world, write)
    before = counts()

    response = _post(as_user, world, write.user, write.other_member(world, request))

    assert_error(response, 409, "request_id_reused", "request_id")
    assert counts() == before


@pytest.mark.parametrize(("write", "change"), OTHER_PAYLOADS, ids=lambda v: v if isinstance(v, str) else v.name)
def test_the_same_request_id_with_anything_else_changed_is_refused(as_user, world, write, change):
    request, _first_answer = _first(as_user, world, write)
    before = counts()

    response = _post(as_user, world, write.user, write.other_payloads[change](world, request))

    assert_error(response, 409, "request_id_reused", "request_id")
    assert counts() == before


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)
def test_a_replay_answers_only_to_whoever_may_see_the_original(as_user, world, write):
    request, _first_answer = _first(as_user, world, write)
    before = counts()
    tries = [request] + ([write.outsiders_own(world, request)] if write.outsiders_own else [])

    for attempt in tries:
        response = _post(as_user, world, write.outsider, attempt)

        # Refused as any request of theirs there would be, or as a reused id: nothing of the original.
        assert (response.status_code, response.json()["code"]) in REFUSALS, response.content
        assert set(response.json()) == {"code", "message", "field"}
    assert counts() == before


def test_every_write_route_with_a_request_id_has_a_row_here():
    routes = {
        f"{namespace}:{pattern.name}"
        for namespace in ("loyalty-api", "campaigns-api", "members-api")
        for pattern in get_resolver().namespace_dict[namespace][1].url_patterns
        if _takes_a_request_id(pattern)
    }

    assert routes == {write.url for write in WRITES}


def _takes_a_request_id(pattern) -> bool:
    view = getattr(pattern.callback, "view_class", None)
    serializer = getattr(view, "InputSerializer", None)
    return serializer is not None and hasattr(view, "post") and "request_id" in serializer().fields
