import pytest

from loyalty.models import Refund, Sale
from tests.api.conftest import assert_error, rid

pytestmark = pytest.mark.django_db

MANAGER = {"username": "manager_a", "password": "correct-horse-battery"}


@pytest.fixture
def sale(member, sell):
    """王芳 bought two coffees at SH001: ¥100, 100 points earned."""
    response = sell(member.code, lines=[{"category": "饮品", "quantity": "2", "unit_price": "50.00"}])
    assert response.status_code == 201
    return Sale.objects.get(pk=response.json()["id"])


def refund(client, sale_id, **fields):
    payload = {"request_id": rid(), "reason": "顾客退货", **fields}
    return client.post(f"/api/v1/sales/{sale_id}/refunds/", payload, format="json")


def test_a_manager_refunds_a_line_and_gets_what_went_back_and_the_balances(chain, as_user, sale):
    response = refund(as_user(chain.manager_a), sale.pk, lines=[{"line_no": 1, "quantity": "1"}])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sale"] == sale.pk and body["store"] == "SH001"
    assert (body["amount"], body["money_refunded"]) == ("50.00", "50.00")
    assert (body["points_clawed_back"], body["points_restored"], body["debt_created"]) == (50, 0, 0)
    assert body["lines"] == [{"line_no": 1, "quantity": "1.000"}]
    assert body["approved_by"] is None
    assert body["balances"]["points"] == {"available": 50, "pending": 0, "debt": 0}


def test_the_same_refund_request_again_returns_the_first_refund_with_200(chain, as_user, sale):
    client = as_user(chain.manager_a)
    payload = {"request_id": rid(), "reason": "顾客退货", "amount": "30.00"}

    first = client.post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")
    again = client.post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Refund.objects.count() == 1


def test_a_different_refund_under_a_used_request_id_is_refused(chain, as_user, sale, snapshot):
    client = as_user(chain.manager_a)
    payload = {"request_id": rid(), "reason": "顾客退货", "amount": "30.00"}
    client.post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")
    before = snapshot()

    response = client.post(f"/api/v1/sales/{sale.pk}/refunds/", {**payload, "amount": "40.00"}, format="json")

    assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()


def test_a_cashier_refunds_with_their_managers_approval(chain, as_user, sale):
    response = refund(as_user(chain.cashier_a), sale.pk, amount="100.00", approver=MANAGER)

    assert response.status_code == 201, response.content
    assert response.json()["approved_by"] == "manager_a"
    assert Sale.objects.get(pk=sale.pk).status == Sale.Status.REFUNDED


def test_a_cashier_cannot_refund_without_approval(chain, as_user, sale, snapshot):
    before = snapshot()

    assert_error(refund(as_user(chain.cashier_a), sale.pk, amount="10.00"), 400, "approval_required", "approver")
    before.assert_unchanged()


def test_a_wrong_approver_password_is_refused(chain, as_user, sale, snapshot):
    before = snapshot()

    response = refund(as_user(chain.cashier_a), sale.pk, amount="10.00", approver={**MANAGER, "password": "guess"})

    assert_error(response, 403, "approval_invalid", "approver")
    before.assert_unchanged()


def test_an_approver_who_may_not_approve_here_is_refused(chain, as_user, sale, snapshot):
    before = snapshot()

    response = refund(
        as_user(chain.cashier_a),
        sale.pk,
        amount="10.00",
        approver={"username": "cashier_b", "password": MANAGER["password"]},
    )

    assert_error(response, 403, "approval_invalid", "approver")
    before.assert_unchanged()


def test_more_than_was_paid_cannot_be_refunded(chain, as_user, sale, snapshot):
    before = snapshot()

    assert_error(refund(as_user(chain.manager_a), sale.pk, amount="100.01"), 400, "refund_exceeds_sale", "amount")
    before.assert_unchanged()


def test_more_of_a_line_than_was_sold_cannot_be_refunded(chain, as_user, sale, snapshot):
    before = snapshot()

    response = refund(as_user(chain.manager_a), sale.pk, lines=[{"line_no": 1, "quantity": "3"}])

    assert_error(response, 400, "refund_exceeds_sale", "lines")
    before.assert_unchanged()


def test_a_refund_needs_a_reason(chain, as_user, sale, snapshot):
    before = snapshot()

    assert_error(
        refund(as_user(chain.manager_a), sale.pk, amount="10.00", reason="   "), 400, "reason_required", "reason"
    )
    before.assert_unchanged()


def test_a_refund_is_an_amount_or_lines_not_both(chain, as_user, sale, snapshot):
    before = snapshot()

    response = refund(as_user(chain.manager_a), sale.pk, amount="10.00", lines=[{"line_no": 1, "quantity": "1"}])

    assert_error(response, 400, "amount_or_lines", "amount")
    before.assert_unchanged()


def test_an_unknown_sale_is_answered_404(chain, as_user, sale, snapshot):
    before = snapshot()

    assert_error(refund(as_user(chain.manager_a), 999_999, amount="10.00"), 404, "sale_not_found")
    assert_error(refund(as_user(chain.manager_a), 10**30, amount="10.00"), 404, "sale_not_found")
    before.assert_unchanged()


def test_a_cashier_cannot_refund_at_another_store(chain, as_user, sale, snapshot):
    before = snapshot()

    assert_error(refund(as_user(chain.cashier_b), sale.pk, amount="10.00", approver=MANAGER), 403, "forbidden")
    before.assert_unchanged()


def test_a_refund_amount_with_more_than_two_decimals_is_refused(chain, as_user, sale, snapshot):
    before = snapshot()

    assert_error(refund(as_user(chain.manager_a), sale.pk, amount="1.001"), 400, "max_decimal_places", "amount")
    before.assert_unchanged()
