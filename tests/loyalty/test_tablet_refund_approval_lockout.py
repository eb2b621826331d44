"""On the tablet's refund page, a manager's password typed wrong too often locks the manager's account: the
page says so in the form (the refund kept as typed), not the login's lockout page, and refunds nothing."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from loyalty.models import Refund
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def fang(db):
    return MemberFactory(phone="13800138000", name="王芳", birthday=None)


def refund(client, sale, password, language="en"):
    form = client.get(reverse("tablet:refund", args=[sale.pk])).context["form"]
    data = {
        "request_id": form["request_id"].value(),
        "how": "whole",
        "reason": "顾客退货",
        "approver_username": "manager_a",
        "approver_password": password,
    }
    return client.post(reverse("tablet:refund", args=[sale.pk]), data, HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "Too many wrong manager passwords for this account or from this device. Try again in 15 minutes"),
        ("zh-hans", "该店长账号或本设备输错店长密码次数过多。请在 15 分钟后重试，或请总部解锁。"),
    ],
)
def test_the_refund_page_says_the_managers_account_is_locked_after_five_wrong_passwords(
    at_till, chain, fang, sell, language, message
):
    sale = sell(fang, 100, cash=100)
    client = at_till(chain.cashier_a, chain.store_a)
    for n in range(4):
        assert b"username or password is wrong" in refund(client, sale, f"guess-{n}").content

    fifth = refund(client, sale, "guess-5", language)
    right = refund(client, sale, PASSWORD, language)

    for response in (fifth, right):
        assert response.status_code == 200
        assert message in response.content.decode()
        assert 'name="reason"' in response.content.decode()  # the refund form, still filled in
    assert not Refund.objects.exists()


def test_the_managers_password_typed_at_the_till_is_not_kept(at_till, chain, fang, sell):
    sale = sell(fang, 100, cash=100)
    client = at_till(chain.cashier_a, chain.store_a)

    refund(client, sale, "guess-secret")

    kept = " ".join(AccessAttempt.objects.values_list("post_data", flat=True))
    assert "guess-secret" not in kept
    assert "manager_a" not in kept


def test_asking_without_a_managers_login_counts_no_failure(at_till, chain, fang, sell):
    sale = sell(fang, 100, cash=100)
    client = at_till(chain.cashier_a, chain.store_a)
    form = client.get(reverse("tablet:refund", args=[sale.pk])).context["form"]

    client.post(
        reverse("tablet:refund", args=[sale.pk]),
        {"request_id": form["request_id"].value(), "how": "whole", "reason": "顾客退货"},
    )

    assert not AccessAttempt.objects.exists()
