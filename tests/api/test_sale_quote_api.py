"""POST /api/v1/sales/quote/ and the offline flag of POST /api/v1/sales/."""

from decimal import Decimal

import pytest

from loyalty.models import Sale
from tests.api.conftest import assert_error, sale_payload
from tests.api.test_sales_api import _fresh

pytestmark = pytest.mark.django_db


def quote_payload(member=None, amount="100.00", **overrides) -> dict:
    payload = {
        "store": "SH001",
        "member": member,
        "lines": [{"category": "饮品", "quantity": "1", "unit_price": amount}],
    }
    payload.update(overrides)
    return payload


def test_the_quote_answers_what_the_sale_will_cost_and_earn(chain, as_user, member, sell, snapshot):
    sell(member.code, "300.00")
    before = snapshot()
    response = as_user(chain.cashier_a).post(
        "/api/v1/sales/quote/", quote_payload(member.code, "100.00", points=100), format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "subtotal": "100.00",
        "tier_discount": "0.00",
        "coupon_discount": "0.00",
        "points_to_redeem": 100,
        "points_value": "1.00",
        "max_points": 300,
        "total_due": "99.00",
        "points_earned": 99,
        "stored_value_available": "0.00",
        "redeem_points_per_yuan": 100,
        "redeem_step": 100,
    }
    before.assert_unchanged()
    sale = sell(member.code, "100.00", points=100, tenders=[{"kind": "cash", "amount": "99.00"}]).json()
    assert (sale["total_due"], sale["points_earned"]) == ("99.00", 99)


def test_the_quote_without_a_member(chain, as_user, policy, base_rule):
    response = as_user(chain.cashier_a).post("/api/v1/sales/quote/", quote_payload(), format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["total_due"], response.json()["max_points"], response.json()["points_earned"]) == (
        "100.00",
        0,
        0,
    )


def test_the_quote_refuses_like_checkout(chain, as_user, member, policy):
    client = as_user(chain.cashier_a)
    assert_error(
        client.post("/api/v1/sales/quote/", quote_payload(member.code, points=100), format="json"),
        400,
        "insufficient_points",
        "points",
    )
    assert_error(
        client.post("/api/v1/sales/quote/", quote_payload(member.code, coupon_codes=["NOPE"]), format="json"),
        400,
        "coupon_not_found",
        "coupon_codes",
    )
    assert as_user(chain.cashier_b).post("/api/v1/sales/quote/", quote_payload(), format="json").status_code == 403


@pytest.mark.parametrize(
    "overrides",
    [
        {"points": "lots"},
        {"points": -100},
        {"points": 10**12},
        {"coupon_codes": "ABC"},
        {"coupon_codes": [None]},
        {"coupon_codes": ["x" * 65]},
        {"channel": "fax"},
        {"lines": []},
        {"lines": "饮品"},
        {"store": "NOPE"},
        {"member": "13900000000"},
        {"lines": [{"category": "饮品", "quantity": "1", "unit_price": "1.001"}]},
    ],
)
def test_the_quote_never_answers_500(chain, as_user, member, policy, overrides):
    response = as_user(chain.cashier_a).post("/api/v1/sales/quote/", quote_payload(**overrides), format="json")
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"code", "message", "field"}


@pytest.mark.parametrize("offline", ["maybe", None, [], {"a": 1}])
def test_a_bad_offline_flag_is_a_400(chain, as_user, member, policy, base_rule, offline):
    response = as_user(chain.cashier_a).post("/api/v1/sales/", sale_payload(offline=offline), format="json")
    assert response.status_code == 400, response.content


def test_an_offline_sale_answers_its_review_fields(chain, as_user, member, sell):
    sell(member.code, "300.00")
    sell(member.code, "100.00", points=300, tenders=[{"kind": "cash", "amount": "97.00"}])
    payload = sale_payload(
        member=member.code, amount="100.00", points=300, offline=True, tenders=[{"kind": "cash", "amount": "97.00"}]
    )
    client = as_user(chain.cashier_a)
    first = client.post("/api/v1/sales/", payload, format="json")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["points_redeemed"], body["total_due"], body["unsettled_amount"]) == (0, "97.00", "3.00")
    assert (body["review_reasons"], body["review_state"]) == (["points_unavailable", "amount_differs"], "pending")
    again = client.post("/api/v1/sales/", payload, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Sale.objects.filter(review_state="pending").count() == 1
    # The same request id without the offline flag is the same sale (a till that timed out and queued it)
    online = client.post("/api/v1/sales/", {**payload, "offline": False}, format="json")
    assert online.status_code == 200 and online.json()["id"] == body["id"]


def test_an_ordinary_sale_answers_empty_review_fields(chain, member, sell):
    body = sell(member.code, "10.00").json()
    assert (body["unsettled_amount"], body["review_reasons"], body["review_state"]) == ("0.00", [], "")


# The store, the member, the user's roles and stores (2); the settings, the points account, the statistics,
# the wallet, today's spend, the tiers, the earning rule and the boosts. No lock, no write.
QUOTE_QUERIES = 12


def test_a_quote_costs_a_fixed_number_of_queries(chain, api, member, sell, tiers, django_assert_num_queries):
    sell(member.code, "300.00")
    for _ in range(2):
        api.force_authenticate(_fresh(chain.cashier_a))
        with django_assert_num_queries(QUOTE_QUERIES):
            response = api.post("/api/v1/sales/quote/", quote_payload(member.code, points=100), format="json")
        assert response.status_code == 200, response.content
        sell(member.code, "50.00")


def test_the_quote_counts_the_points_a_stored_value_payment_earns_as_checkout_does(chain, as_user, member, sell):
    from loyalty.services import wallet_top_up
    from tests.factories.loyalty import RechargePackageFactory

    wallet_top_up(
        request_id="quote-topup-0001",
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(pay_amount=Decimal("100.00"), bonus_amount=Decimal("100.00")),
    )
    client = as_user(chain.cashier_a)

    quote = client.post(
        "/api/v1/sales/quote/", quote_payload(member.code, "100.00", stored_value="60.00"), format="json"
    ).json()
    sale = sell(
        member.code,
        "100.00",
        tenders=[{"kind": "stored_value", "amount": "60.00"}, {"kind": "cash", "amount": "40.00"}],
    ).json()

    assert quote["points_earned"] == sale["points_earned"] < 100
    assert_error(
        client.post("/api/v1/sales/quote/", quote_payload(member.code, "500.00", stored_value="300.00"), format="json"),
        400,
        "insufficient_stored_value",
    )
