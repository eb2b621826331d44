from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from loyalty.models import PointsAccount, Sale
from loyalty.services import checkout, wallet_top_up
from members.services import member_set_status
from tests.api.conftest import assert_error, rid, sale_payload
from tests.factories import StoreFactory
from tests.factories.stores import integration_token

pytestmark = pytest.mark.django_db

User = get_user_model()


def test_a_cashier_rings_up_a_sale_for_a_member_and_gets_totals_points_and_balances(chain, member, sell):
    response = sell(member.code, "128.50")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["store"] == "SH001"
    assert body["member"] == member.code
    assert body["subtotal"] == "128.50"
    assert body["total_due"] == "128.50"
    assert body["paid_money"] == "128.50"
    assert body["points_earned"] == 128
    assert body["lines"] == [
        {
            "line_no": 1,
            "category": "饮品",
            "sku": "",
            "quantity": "1.000",
            "unit_price": "128.50",
            "amount": "128.50",
            "net_amount": "128.50",
        }
    ]
    assert body["tenders"] == [{"kind": "cash", "amount": "128.50"}]
    assert body["balances"] == {
        "points": {"available": 128, "pending": 0, "debt": 0},
        "stored_value": {"principal": "0.00", "bonus": "0.00", "total": "0.00"},
    }
    sale = Sale.objects.get(pk=body["id"])
    assert sale.cashier == chain.cashier_a and sale.request_id == body["request_id"]


def test_the_same_request_id_again_returns_the_first_sale_with_200_and_the_same_body(chain, member, as_user, policy):
    client = as_user(chain.cashier_a)
    payload = sale_payload(member=member.code, amount="58.00")

    first = client.post("/api/v1/sales/", payload, format="json")
    again = client.post("/api/v1/sales/", payload, format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Sale.objects.count() == 1
    assert PointsAccount.objects.get(pk=member.pk).available == 58


def test_a_different_sale_under_a_used_request_id_is_refused_and_changes_nothing(
    chain, member, as_user, policy, snapshot
):
    client = as_user(chain.cashier_a)
    payload = sale_payload(member=member.code, amount="58.00")
    client.post("/api/v1/sales/", payload, format="json")
    before = snapshot()

    response = client.post(
        "/api/v1/sales/", {**payload, "lines": [{**payload["lines"][0], "quantity": "2"}]}, format="json"
    )

    assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()


@pytest.mark.parametrize("typed", ["13800138000", "+86 138-0013-8000", "008613800138000", "１３８００１３８０００"])
def test_a_member_can_be_addressed_by_phone_in_any_format(member, sell, typed):
    response = sell(typed, "10.00")

    assert response.status_code == 201, response.content
    assert response.json()["member"] == member.code


def test_a_sale_without_a_member_earns_nothing_and_has_no_balances(sell):
    response = sell(None, "10.00")

    assert response.status_code == 201
    assert response.json()["member"] is None
    assert response.json()["points_earned"] == 0
    assert response.json()["balances"] is None


def test_money_may_be_sent_as_numbers_and_comes_back_as_strings_with_two_decimals(member, sell):
    response = sell(
        member.code,
        lines=[{"category": "烘焙", "quantity": 2, "unit_price": 12.5}],
        tenders=[{"kind": "mobile", "amount": 25}],
    )

    assert response.status_code == 201, response.content
    assert response.json()["total_due"] == "25.00"
    assert response.json()["lines"][0]["quantity"] == "2.000"


def test_a_member_pays_partly_with_points_and_partly_from_stored_value(chain, member, sell):
    wallet_top_up(
        request_id=rid(), member=member, store=chain.store_a, staff=chain.cashier_a, tender="cash", amount=Decimal(100)
    )
    sell(member.code, "300.00")

    response = sell(
        member.code,
        "100.00",
        points=200,
        tenders=[{"kind": "stored_value", "amount": "50.00"}, {"kind": "card", "amount": "48.00"}],
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["points_redeemed"], body["points_value"], body["total_due"]) == (200, "2.00", "98.00")
    assert (body["paid_principal"], body["paid_money"]) == ("50.00", "48.00")
    assert body["points_earned"] == 98
    assert body["balances"]["points"]["available"] == 300 - 200 + 98
    assert body["balances"]["stored_value"] == {"principal": "50.00", "bonus": "0.00", "total": "50.00"}


def test_a_token_lets_an_integration_ring_up_a_sale(chain, member, policy):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {integration_token(chain.cashier_a)}")

    response = client.post("/api/v1/sales/", sale_payload(member=member.code, amount="20.00"), format="json")

    assert response.status_code == 201, response.content
    assert Sale.objects.get().cashier == chain.cashier_a


def test_more_than_two_decimal_places_are_refused_with_the_field_path(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, lines=[{"category": "饮品", "quantity": "1", "unit_price": "10.005"}])

    assert_error(response, 400, "max_decimal_places", "lines.0.unit_price")
    before.assert_unchanged()


# One test per error code the sale answers. Each changes nothing.


def _refused(response, before, status, code, field=...):
    assert_error(response, status, code, field)
    before.assert_unchanged()


def test_redeeming_more_points_than_the_member_has_is_refused(member, sell, snapshot):
    sell(member.code, "100.00")
    before = snapshot()

    response = sell(member.code, "300.00", points=200, tenders=[{"kind": "cash", "amount": "298.00"}])

    _refused(response, before, 400, "insufficient_points", "points")


def test_points_may_pay_at_most_half_of_the_sale(member, sell, snapshot):
    sell(member.code, "1000.00")
    before = snapshot()

    response = sell(member.code, "10.00", points=600, tenders=[{"kind": "cash", "amount": "4.00"}])

    _refused(response, before, 400, "points_cap_exceeded", "points")


@pytest.mark.parametrize("points", [150, -100])
def test_points_must_be_whole_steps_and_not_negative(member, sell, snapshot, points):
    sell(member.code, "1000.00")
    before = snapshot()

    response = sell(member.code, "100.00", points=points)

    _refused(response, before, 400, "invalid_points", "points")


def test_tenders_must_add_up_to_what_is_due(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, "100.00", tenders=[{"kind": "cash", "amount": "90.00"}])

    _refused(response, before, 400, "tenders_mismatch", "tenders")


def test_an_unknown_tender_is_refused(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, "100.00", tenders=[{"kind": "bitcoin", "amount": "100.00"}])

    _refused(response, before, 400, "invalid_tender", "tenders.0.kind")


def test_a_tender_may_appear_once(member, sell, snapshot):
    before = snapshot()

    response = sell(
        member.code, "100.00", tenders=[{"kind": "cash", "amount": "50.00"}, {"kind": "cash", "amount": "50.00"}]
    )

    _refused(response, before, 400, "duplicate_tender", "tenders")


@pytest.mark.parametrize("amount", ["0", "-10.00"])
def test_a_tender_amount_must_be_above_zero(member, sell, snapshot, amount):
    before = snapshot()

    response = sell(member.code, "100.00", tenders=[{"kind": "cash", "amount": amount}])

    _refused(response, before, 400, "invalid_amount", "tenders")


def test_a_sale_needs_lines(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, lines=[], tenders=[])

    _refused(response, before, 400, "lines_required", "lines")


def test_a_sale_has_at_most_200_lines(member, sell, snapshot):
    before = snapshot()
    line = {"category": "饮品", "quantity": "1", "unit_price": "1.00"}

    response = sell(member.code, "201.00", lines=[line] * 201)

    _refused(response, before, 400, "too_many_lines", "lines")


def test_every_line_needs_a_category_of_sane_length(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, lines=[{"category": "饮" * 65, "quantity": "1", "unit_price": "100.00"}])

    _refused(response, before, 400, "max_length", "lines.0.category")


@pytest.mark.parametrize("quantity", ["0", "-1", "1000000"])
def test_quantities_must_be_above_zero_and_sane(member, sell, snapshot, quantity):
    before = snapshot()

    response = sell(member.code, lines=[{"category": "饮品", "quantity": quantity, "unit_price": "1.00"}])

    _refused(response, before, 400, "invalid_quantity", "lines")


def test_prices_cannot_be_negative(member, sell, snapshot):
    before = snapshot()

    response = sell(
        member.code,
        lines=[
            {"category": "饮品", "quantity": "1", "unit_price": "-5.00"},
            {"category": "饮品", "quantity": "1", "unit_price": "105.00"},
        ],
    )

    _refused(response, before, 400, "invalid_price", "lines")


def test_a_frozen_member_cannot_be_sold_to(chain, member, sell, snapshot):
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="挂失")
    before = snapshot()

    response = sell(member.code, "10.00")

    _refused(response, before, 400, "member_frozen", "member")


def test_points_and_stored_value_need_a_member(sell, snapshot):
    before = snapshot()

    response = sell(None, "10.00", tenders=[{"kind": "stored_value", "amount": "10.00"}])

    _refused(response, before, 400, "member_required", "member")


def test_paying_more_from_stored_value_than_the_wallet_holds_is_refused(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, "10.00", tenders=[{"kind": "stored_value", "amount": "10.00"}])

    _refused(response, before, 400, "insufficient_stored_value", "tenders")


def test_a_coupon_is_refused_while_no_coupon_app_is_plugged_in(member, sell, snapshot, monkeypatch):
    monkeypatch.setattr(checkout, "_coupon_appliers", [])
    before = snapshot()

    response = sell(member.code, "10.00", coupon_code="WELCOME10")

    _refused(response, before, 400, "coupon_invalid", "coupon_code")


def test_an_unknown_coupon_is_refused(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, "10.00", coupon_code="WELCOME10")

    _refused(response, before, 400, "coupon_not_found", "coupon_code")


def test_an_unknown_member_is_answered_404(sell, snapshot):
    before = snapshot()

    response = sell("13900001111", "10.00")

    _refused(response, before, 404, "member_not_found", "member")


def test_an_unknown_store_is_answered_404(member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, "10.00", store="XX999")

    _refused(response, before, 404, "store_not_found", "store")


def test_a_cashier_cannot_sell_at_another_store(chain, member, sell, snapshot):
    before = snapshot()

    response = sell(member.code, "10.00", user=chain.cashier_b)

    body = assert_error(response, 403, "forbidden", None)
    assert "SH001" in body["message"]
    before.assert_unchanged()


def test_nobody_can_sell_at_an_inactive_store(chain, member, sell, snapshot):
    StoreFactory(code="SH009", is_active=False)
    before = snapshot()

    response = sell(member.code, "10.00", store="SH009", user=chain.hq_admin)

    _refused(response, before, 403, "forbidden")


@pytest.mark.parametrize("request_id", ["short", "x" * 65, "has space in it", "中文请求编号一二三四", ""])
def test_a_request_id_must_be_8_to_64_safe_characters(member, sell, snapshot, request_id):
    before = snapshot()

    response = sell(member.code, "10.00", request_id=request_id)

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_request_id", "blank"}
    assert response.json()["field"] == "request_id"
    before.assert_unchanged()


# Queries

# A sale that redeems and earns points: the view's store and member (2); checkout's request-id check
# (1), the cashier's roles and stores (2) and its transaction (23 with the savepoint: settings, locks,
# tiers, daily spend, rule, the member's best points boost (campaigns' source), the sale, lines and
# tenders, redeem from lots, earn a lot, stats, tier check); the balances after (1). The lines and
# tenders come back from the insert, not re-read. None of it depends on how many sales came before.
SALE_QUERIES = 30


def _fresh(user):
    # A request loads its user afresh; the roles and stores are then read once (two queries).
    return User.objects.get(pk=user.pk)


def test_a_sale_costs_a_fixed_number_of_queries_whatever_the_members_history(
    chain, api, member, sell, tiers, django_assert_num_queries
):
    sell(member.code, "300.00")

    def redeem_and_earn():
        api.force_authenticate(_fresh(chain.cashier_a))
        payload = sale_payload(
            member=member.code, amount="30.00", points=100, tenders=[{"kind": "cash", "amount": "29.00"}]
        )
        with django_assert_num_queries(SALE_QUERIES):
            response = api.post("/api/v1/sales/", payload, format="json")
        assert response.status_code == 201, response.content

    redeem_and_earn()
    for _ in range(20):
        assert sell(member.code, "50.00").status_code == 201
    redeem_and_earn()


# A sale with one coupon that earns points: what a sale without one costs (25: no points paid),
# and the coupon's three: the coupons with their templates and the member's tier, the templates' tiers
# and stores, and the conditional UPDATE that claims it. The same for any coupon and history.
SALE_WITHOUT_COUPON_QUERIES = 25
SALE_WITH_COUPON_QUERIES = SALE_WITHOUT_COUPON_QUERIES + 3


def test_a_sale_with_a_coupon_costs_three_queries_more_than_one_without(
    chain, api, member, sell, tiers, django_assert_num_queries
):
    from tests.factories.campaigns import CouponFactory, CouponTemplateFactory

    sell(member.code, "300.00")
    # 满100减20 for the member's tier at this store; the sales stay below the next tier (no upgrade writes).
    template = CouponTemplateFactory(amount="20.00", threshold="100.00", tiers=[tiers[0]], stores=[chain.store_a])

    def ring_up(expected: int, **coupon):
        api.force_authenticate(_fresh(chain.cashier_a))
        paid = "100.00" if coupon else "120.00"
        payload = sale_payload(member=member.code, amount="120.00", tenders=[{"kind": "cash", "amount": paid}])
        with django_assert_num_queries(expected):
            response = api.post("/api/v1/sales/", {**payload, **coupon}, format="json")
        assert response.status_code == 201, response.content

    ring_up(SALE_WITHOUT_COUPON_QUERIES)
    for i in range(3):
        ring_up(
            SALE_WITH_COUPON_QUERIES,
            coupon_code=CouponFactory(member=member, template=template, issue_key=f"pin:{i}").code,
        )
