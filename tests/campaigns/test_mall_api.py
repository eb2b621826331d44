"""The points mall through the REST API: what a member may buy (and why not), orders, hand-over, cancel."""

import pytest
from django.contrib.auth import get_user_model

from campaigns.models import MallOrder
from loyalty.models import MemberStats, PointsAccount
from tests.api.conftest import assert_error, rid
from tests.factories import MemberFactory
from tests.factories.campaigns import CouponMallItemFactory, MallItemFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def rich(member, give_points):
    give_points(member, 3000)
    return member


def items(client, **params):
    return client.get("/api/v1/mall/items/", params, HTTP_ACCEPT_LANGUAGE="en")


def order(client, member, item, store="SH001", **extra):
    payload = {"request_id": rid(), "member": member.code, "item": item.pk, "store": store, **extra}
    return client.post("/api/v1/mall/orders/", payload, format="json")


def test_the_mall_says_what_a_member_may_buy_and_why_not_the_rest(chain, as_user, rich, tiers):
    MemberStats.objects.update_or_create(member=rich, defaults={"tier": tiers["normal"]})
    cup = MallItemFactory(name="保温杯", points_price=1000, stock=3)
    gone = MallItemFactory(name="雨伞", points_price=800, stock=0)
    gold = MallItemFactory(name="金卡礼盒", points_price=2000, tiers=[tiers["gold"]])
    dear = MallItemFactory(name="咖啡机", points_price=9000)
    coupon = CouponMallItemFactory(name="10元券", points_price=500)
    MallItemFactory(name="下架", is_active=False)

    body = items(as_user(chain.cashier_a), member=rich.code, store="SH001").json()

    by_name = {row["name"]: row for row in body}
    assert list(by_name) == ["10元券", "雨伞", "保温杯", "金卡礼盒", "咖啡机"]  # cheapest first, on sale only
    assert by_name["保温杯"]["available"] is True and by_name["保温杯"]["refusal"] is None
    assert by_name["保温杯"]["stock"] == 3
    assert by_name["雨伞"]["refusal"] == {"code": "mall_out_of_stock", "message": "“雨伞” is out of stock."}
    assert by_name["金卡礼盒"]["refusal"] == {
        "code": "mall_wrong_tier",
        "message": "“金卡礼盒” is for members of 金卡 only.",
    }
    assert by_name["金卡礼盒"]["tiers"] == [{"code": "GOLD", "name": "金卡"}]
    assert by_name["咖啡机"]["refusal"]["code"] == "insufficient_points"
    assert by_name["10元券"]["coupon"]["amount"] == "10.00" and by_name["10元券"]["kind"] == "coupon"
    assert {cup.pk, gone.pk, gold.pk, dear.pk, coupon.pk} == {row["id"] for row in body}


def test_an_item_at_the_members_limit_says_so(chain, as_user, rich):
    item = MallItemFactory(per_member_limit=1)
    order(as_user(chain.cashier_a), rich, item)

    [row] = items(as_user(chain.cashier_a), member=rich.code).json()

    assert (row["ordered"], row["refusal"]["code"]) == (1, "mall_limit_reached")


def test_the_item_list_costs_a_fixed_number_of_queries(chain, api, rich, tiers, django_assert_max_num_queries):
    def queries() -> int:
        api.force_authenticate(User.objects.get(pk=chain.cashier_a.pk))
        with django_assert_max_num_queries(20) as captured:
            assert items(api, member=rich.code, store="SH001").status_code == 200
        return len(captured.captured_queries)

    MallItemFactory(tiers=[tiers["gold"]])
    CouponMallItemFactory()
    few = queries()
    for _ in range(10):
        MallItemFactory(tiers=[tiers["gold"], tiers["normal"]])
        CouponMallItemFactory()
    assert queries() == few


def test_a_cashier_places_an_order_and_gets_the_balances(chain, as_user, rich):
    item = MallItemFactory(points_price=1000, stock=2)

    response = order(as_user(chain.cashier_a), rich, item)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["points"], body["store"], body["item_name"]) == ("placed", 1000, "SH001", item.name)
    assert body["balances"]["points"]["available"] == 2000
    assert body["coupon"] is None


def test_a_coupon_order_answers_its_coupon(chain, as_user, rich):
    response = order(as_user(chain.hq_admin), rich, CouponMallItemFactory(), store="")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "delivered" and body["store"] is None
    assert body["coupon"]["code"] and body["coupon"]["amount"] == "10.00"


def test_the_same_order_again_answers_the_first_with_200(chain, as_user, rich):
    client, item = as_user(chain.cashier_a), MallItemFactory()
    payload = {"request_id": rid(), "member": rich.code, "item": item.pk, "store": "SH001"}

    first = client.post("/api/v1/mall/orders/", payload, format="json")
    again = client.post("/api/v1/mall/orders/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert MallOrder.objects.count() == 1


@pytest.mark.parametrize(
    ("setup", "status", "code", "field"),
    [
        ({"item": 999999}, 404, "item_not_found", "item"),
        ({"member": "13999999999"}, 404, "member_not_found", "member"),
        ({"store": "XX999"}, 404, "store_not_found", "store"),
        ({"store": ""}, 400, "store_required", "store"),
        ({"points_price": 9000}, 400, "insufficient_points", "points"),
        ({"stock": 0}, 400, "mall_out_of_stock", "item"),
    ],
)
def test_bad_orders_are_refused_and_change_nothing(chain, as_user, rich, setup, status, code, field):
    item = MallItemFactory(points_price=setup.get("points_price", 1000), stock=setup.get("stock", 5))
    payload = {"request_id": rid(), "member": rich.code, "item": item.pk, "store": "SH001"}
    payload.update({k: v for k, v in setup.items() if k in payload})

    response = as_user(chain.hq_admin).post("/api/v1/mall/orders/", payload, format="json")

    assert_error(response, status, code, field)
    assert not MallOrder.objects.exists()
    assert PointsAccount.objects.get(pk=rich.pk).available == 3000


def test_the_pick_up_store_hands_the_gift_over(chain, as_user, rich):
    placed = order(as_user(chain.cashier_a), rich, MallItemFactory()).json()

    response = as_user(chain.manager_a).post(
        f"/api/v1/mall/orders/{placed['id']}/hand-over/", {"store": "SH001"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["handed_over_by"]) == ("handed_over", "manager_a")
    assert body["handed_over_at"]


def test_another_store_is_told_where_the_gift_waits(chain, as_user, rich):
    placed = order(as_user(chain.cashier_a), rich, MallItemFactory()).json()

    response = as_user(chain.cashier_b).post(
        f"/api/v1/mall/orders/{placed['id']}/hand-over/", {"store": "BJ001"}, format="json"
    )

    assert_error(response, 400, "mall_wrong_store", "store")


def test_an_unknown_order_is_answered_404(chain, as_user):
    response = as_user(chain.cashier_a).post("/api/v1/mall/orders/999999/hand-over/", {"store": "SH001"}, format="json")

    assert_error(response, 404, "order_not_found")


def test_hq_cancels_an_order_and_the_points_go_back(chain, as_user, rich):
    placed = order(as_user(chain.cashier_a), rich, MallItemFactory(points_price=1000)).json()

    response = as_user(chain.marketer).post(
        f"/api/v1/mall/orders/{placed['id']}/cancel/", {"reason": "会员不要了"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["balances"]["points"]["available"] == 3000


def test_a_cashier_cannot_cancel_orders(chain, as_user, rich):
    placed = order(as_user(chain.cashier_a), rich, MallItemFactory()).json()

    response = as_user(chain.cashier_a).post(
        f"/api/v1/mall/orders/{placed['id']}/cancel/", {"reason": "x"}, format="json"
    )

    assert_error(response, 403, "forbidden")


def test_the_mall_list_needs_a_role_that_looks_members_up(as_user, policy):
    nobody = User.objects.create_user("nobody", password="x" * 12)

    assert_error(items(as_user(nobody)), 403, "forbidden")


def test_a_marketer_reads_the_mall_for_a_member(chain, as_user, policy):
    member = MemberFactory()
    MallItemFactory()

    assert items(as_user(chain.marketer), member=member.code).status_code == 200


HOSTILE = [
    ("get", "/api/v1/mall/items/?member=%00", None),
    ("get", "/api/v1/mall/items/?store=SH%00001", None),
    ("get", "/api/v1/mall/items/?member=" + "9" * 5000, None),
    ("post", "/api/v1/mall/orders/", {"request_id": "abcdefgh1", "member": {"$ne": 1}, "item": 1}),
    ("post", "/api/v1/mall/orders/", {"request_id": "abcdefgh1", "member": "13800138000", "item": 10**30}),
    ("post", "/api/v1/mall/orders/", {"request_id": "1'; DROP TABLE x;--", "member": "13800138000", "item": 1}),
    ("post", "/api/v1/mall/orders/", {"request_id": "abcdefgh1", "member": "😀", "item": "one"}),
    ("post", "/api/v1/mall/orders/99999999999999999999/hand-over/", {"store": "SH001"}),
    ("post", "/api/v1/mall/orders/1/hand-over/", {"store": ["SH001"]}),
    ("post", "/api/v1/mall/orders/1/cancel/", {"reason": {"why": 1}}),
    ("post", "/api/v1/coupons/", {"request_id": "abcdefgh1", "template": -1, "member": "13800138000"}),
    ("post", "/api/v1/coupons/", {"request_id": "abcdefgh1", "template": 10**30, "member": "13800138000"}),
    ("post", "/api/v1/coupons/", {"request_id": "abcdefgh1", "template": 1, "member": "\x00"}),
    ("post", "/api/v1/coupons/", []),
]


@pytest.mark.parametrize(("method", "path", "body"), HOSTILE)
def test_hostile_requests_are_answered_4xx_with_the_error_shape(chain, as_user, member, method, path, body):
    client = as_user(chain.hq_admin)
    response = client.get(path) if method == "get" else client.post(path, body, format="json")

    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert set(response.json()) == {"code", "message", "field"}
