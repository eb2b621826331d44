from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import Refund, Sale
from stores.models import AuditEntry
from tests.api.conftest import assert_error, rid
from tests.factories import StaffFactory

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


# The store of record is the sale's (issue 16 item 3).


@pytest.fixture
def manager_b(chain):
    return StaffFactory(username="manager_b", role="store_manager", stores=[chain.store_b])


@pytest.fixture
def beijing_sale(member, sell, chain):
    """王芳 bought ¥100 at BJ001 from cashier B."""
    response = sell(member.code, store="BJ001", user=chain.cashier_b)
    assert response.status_code == 201, response.content
    return Sale.objects.get(pk=response.json()["id"])


def test_a_manager_cannot_refund_another_stores_sale_by_naming_their_own_store(chain, as_user, beijing_sale, snapshot):
    before = snapshot()

    response = refund(as_user(chain.manager_a), beijing_sale.pk, amount="100.00", store="SH001")

    assert_error(response, 400, "store_mismatch", "store")
    before.assert_unchanged()


def test_a_manager_cannot_refund_another_stores_sale_at_all(chain, as_user, beijing_sale, snapshot):
    before = snapshot()

    assert_error(refund(as_user(chain.manager_a), beijing_sale.pk, amount="100.00"), 403, "forbidden")
    before.assert_unchanged()


def test_a_cashier_cannot_refund_another_stores_sale_with_their_own_managers_approval(
    chain, as_user, sale, manager_b, snapshot
):
    before = snapshot()

    response = refund(
        as_user(chain.cashier_b),
        sale.pk,
        amount="100.00",
        store="BJ001",
        approver={"username": "manager_b", "password": MANAGER["password"]},
    )

    assert_error(response, 400, "store_mismatch", "store")
    assert_error(
        refund(
            as_user(chain.cashier_b),
            sale.pk,
            amount="100.00",
            approver={"username": "manager_b", "password": MANAGER["password"]},
        ),
        403,
        "forbidden",
    )
    before.assert_unchanged()


def test_a_manager_of_another_store_cannot_approve_a_cashiers_refund(chain, as_user, sale, manager_b, snapshot):
    before = snapshot()

    response = refund(
        as_user(chain.cashier_a),
        sale.pk,
        amount="10.00",
        approver={"username": "manager_b", "password": MANAGER["password"]},
    )

    assert_error(response, 403, "approval_invalid", "approver")
    before.assert_unchanged()


def test_a_refund_is_recorded_at_the_sales_store(chain, as_user, sale):
    response = refund(as_user(chain.hq_admin), sale.pk, amount="10.00")

    assert response.status_code == 201, response.content
    assert response.json()["store"] == "SH001"
    assert Refund.objects.get().store == chain.store_a


def test_another_stores_cashier_sending_a_refunds_request_id_learns_nothing(chain, as_user, sale, snapshot):
    payload = {"request_id": rid(), "reason": "顾客退货", "amount": "30.00"}
    first = as_user(chain.manager_a).post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")
    assert first.status_code == 201
    before = snapshot()

    response = as_user(chain.cashier_b).post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")

    assert_error(response, 403, "forbidden")
    assert "30.00" not in response.content.decode()
    before.assert_unchanged()


# The refund window: a loyalty setting; past it only HQ, with a reason.


def _made_days_ago(sale: Sale, days: int) -> Sale:
    Sale.objects.filter(pk=sale.pk).update(created_at=timezone.now() - timedelta(days=days))
    return Sale.objects.get(pk=sale.pk)


@pytest.mark.parametrize("days", [8, 400])
def test_a_store_manager_cannot_refund_a_sale_older_than_the_refund_window(chain, as_user, sale, days, snapshot):
    _made_days_ago(sale, days)
    before = snapshot()

    body = assert_error(refund(as_user(chain.manager_a), sale.pk, amount="10.00"), 400, "refund_window_closed", None)

    assert "7" in body["message"]
    before.assert_unchanged()


def test_a_sale_just_inside_the_refund_window_is_refunded_by_the_store(chain, as_user, sale):
    _made_days_ago(sale, 6)

    assert refund(as_user(chain.manager_a), sale.pk, amount="10.00").status_code == 201


def test_hq_refunds_a_sale_past_the_window_and_the_audit_says_it_was_late(chain, as_user, sale):
    _made_days_ago(sale, 400)

    response = refund(as_user(chain.hq_admin), sale.pk, amount="100.00", reason="总部特批：质量问题")

    assert response.status_code == 201, response.content
    audit = AuditEntry.objects.get(action="sale.refunded")
    assert (audit.actor, audit.reason, audit.data["late"]) == (chain.hq_admin, "总部特批：质量问题", True)


def test_hq_approving_a_cashiers_late_refund_is_not_enough(chain, as_user, sale, snapshot):
    _made_days_ago(sale, 30)
    chain.hq_admin.set_password(MANAGER["password"])
    chain.hq_admin.save()
    before = snapshot()

    response = refund(
        as_user(chain.cashier_a),
        sale.pk,
        amount="10.00",
        approver={"username": "hq_admin", "password": MANAGER["password"]},
    )

    assert_error(response, 400, "refund_window_closed")
    before.assert_unchanged()


def test_hq_widens_the_refund_window_in_the_settings(chain, as_user, sale, policy):
    _made_days_ago(sale, 20)
    policy.refund_window_days = 30
    policy.save()

    assert refund(as_user(chain.manager_a), sale.pk, amount="10.00").status_code == 201


def test_a_replay_after_the_window_closed_still_answers_the_first_refund(chain, as_user, sale):
    client = as_user(chain.manager_a)
    payload = {"request_id": rid(), "reason": "顾客退货", "amount": "30.00"}
    first = client.post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")
    _made_days_ago(sale, 8)

    again = client.post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
