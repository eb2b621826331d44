"""A manager's approval typed at a till counts like a login (issue 16, item 4): a cashier cannot use the
refund's `approver` to guess a manager's password. Five wrong passwords lock the manager's account (for the
approval and for the manager's own logins), and the right one is then refused with 429 approver_locked."""

import pytest
from axes.models import AccessAttempt

from loyalty.models import Refund, Sale
from tests.api.conftest import assert_error, rid

pytestmark = pytest.mark.django_db

MANAGER = {"username": "manager_a", "password": "correct-horse-battery"}


@pytest.fixture
def sale(member, sell):
    response = sell(member.code, amount="100.00")
    assert response.status_code == 201
    return Sale.objects.get(pk=response.json()["id"])


def refund(client, sale, approver, **extra):
    payload = {"request_id": rid(), "reason": "顾客退货", "amount": "10.00", "approver": approver}
    return client.post(f"/api/v1/sales/{sale.pk}/refunds/", payload, format="json", **extra)


def test_a_cashier_guessing_the_managers_password_is_locked_out_and_the_right_one_refused(chain, as_user, sale):
    client = as_user(chain.cashier_a)

    guesses = [refund(client, sale, {**MANAGER, "password": f"guess-{n}"}) for n in range(5)]
    right = refund(client, sale, MANAGER)

    assert [g.status_code for g in guesses] == [403, 403, 403, 403, 429]
    assert_error(guesses[0], 403, "approval_invalid", "approver")
    body = assert_error(right, 429, "approver_locked", "approver")
    assert "15" in body["message"]
    assert right["Retry-After"] == "900"
    assert not Refund.objects.exists()


def test_the_lockout_message_is_in_the_tills_language(chain, as_user, sale):
    client = as_user(chain.cashier_a)
    for n in range(5):
        refund(client, sale, {**MANAGER, "password": f"guess-{n}"})

    body = refund(client, sale, MANAGER, HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert body["message"] == "该店长账号或本设备输错店长密码次数过多。请在 15 分钟后重试，或请总部解锁。"


def test_guessed_approvals_lock_the_managers_own_login_too(client, chain, as_user, sale):
    for n in range(5):
        refund(as_user(chain.cashier_a), sale, {**MANAGER, "password": f"guess-{n}"})

    response = client.post("/tablet/login/", {"username": "manager_a", "password": MANAGER["password"]})

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_right_approval_counts_nothing(chain, as_user, sale):
    response = refund(as_user(chain.cashier_a), sale, MANAGER)

    assert response.status_code == 201, response.content
    assert not AccessAttempt.objects.exists()
