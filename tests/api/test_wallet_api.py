import pytest

from loyalty.models import TopUp, Wallet
from members.services import member_set_status
from tests.api.conftest import assert_error, rid
from tests.factories.loyalty import RechargePackageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(db):
    return RechargePackageFactory()  # 充500送50


def top_up(client, member_ref, **fields):
    payload = {"request_id": rid(), "member": member_ref, "store": "SH001", "tender": "mobile", **fields}
    return client.post("/api/v1/wallet/topups/", payload, format="json")


def test_a_cashier_sells_a_package_and_the_wallet_gets_principal_and_bonus(chain, as_user, member, package):
    response = top_up(as_user(chain.cashier_a), member.code, package=package.pk)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["member"], body["store"], body["package"], body["tender"]) == (
        member.code,
        "SH001",
        package.pk,
        "mobile",
    )
    assert (body["amount"], body["bonus"]) == ("500.00", "50.00")
    assert body["stored_value"] == {"principal": "500.00", "bonus": "50.00", "total": "550.00"}


def test_a_plain_amount_tops_up_principal_only(chain, as_user, member):
    response = top_up(as_user(chain.cashier_a), "13800138000", amount=88.8, tender="cash")

    assert response.status_code == 201, response.content
    assert response.json()["stored_value"] == {"principal": "88.80", "bonus": "0.00", "total": "88.80"}


def test_the_same_top_up_again_returns_the_first_with_200(chain, as_user, member, package):
    client = as_user(chain.cashier_a)
    payload = {"request_id": rid(), "member": member.code, "store": "SH001", "tender": "mobile", "package": package.pk}

    first = client.post("/api/v1/wallet/topups/", payload, format="json")
    again = client.post("/api/v1/wallet/topups/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Wallet.objects.get(pk=member.pk).principal == 500


def test_a_different_top_up_under_a_used_request_id_is_refused(chain, as_user, member, snapshot):
    client = as_user(chain.cashier_a)
    payload = {"request_id": rid(), "member": member.code, "store": "SH001", "tender": "cash", "amount": "100.00"}
    client.post("/api/v1/wallet/topups/", payload, format="json")
    before = snapshot()

    response = client.post("/api/v1/wallet/topups/", {**payload, "amount": "1000.00"}, format="json")

    assert_error(response, 409, "request_id_reused", "request_id")
    before.assert_unchanged()


def test_an_unknown_tender_is_refused(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(
        top_up(as_user(chain.cashier_a), member.code, amount="10", tender="credit"), 400, "invalid_tender", "tender"
    )
    before.assert_unchanged()


@pytest.mark.parametrize("amount", ["0", "-50.00"])
def test_an_amount_must_be_above_zero(chain, as_user, member, snapshot, amount):
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), member.code, amount=amount), 400, "invalid_amount", "amount")
    before.assert_unchanged()


def test_an_absurd_amount_is_refused(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), member.code, amount="9999999999.99"), 400, "invalid_amount", "amount")
    assert_error(top_up(as_user(chain.cashier_a), member.code, amount="1e20"), 400, "max_digits", "amount")
    before.assert_unchanged()


def test_a_package_or_an_amount_is_needed(chain, as_user, member, package, snapshot):
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), member.code), 400, "required", "amount")
    assert_error(
        top_up(as_user(chain.cashier_a), member.code, package=package.pk, amount="10"), 400, "package_or_amount"
    )
    before.assert_unchanged()


def test_an_unknown_package_is_answered_404(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), member.code, package=424242), 404, "package_not_found", "package")
    before.assert_unchanged()


def test_a_package_no_longer_sold_is_refused(chain, as_user, member, snapshot):
    old = RechargePackageFactory(is_active=False)
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), member.code, package=old.pk), 400, "package_inactive", "package")
    before.assert_unchanged()


def test_a_frozen_member_cannot_top_up(chain, as_user, member, snapshot):
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="挂失")
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), member.code, amount="10"), 400, "member_frozen", "member")
    before.assert_unchanged()


def test_a_cashier_cannot_top_up_at_another_store(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_b), member.code, amount="10"), 403, "forbidden")
    before.assert_unchanged()


def test_an_unknown_member_is_answered_404(chain, as_user, policy, snapshot):
    before = snapshot()

    assert_error(top_up(as_user(chain.cashier_a), "13911112222", amount="10"), 404, "member_not_found", "member")
    before.assert_unchanged()


@pytest.mark.parametrize("request_id", ["x" * 500, "short", "白" * 20])
def test_a_bad_request_id_is_refused_before_anything_is_written(chain, as_user, member, snapshot, request_id):
    before = snapshot()

    response = top_up(as_user(chain.cashier_a), member.code, amount="10", request_id=request_id)

    assert_error(response, 400, "invalid_request_id", "request_id")
    before.assert_unchanged()
    assert not TopUp.objects.exists()


# Paying the principal back (退卡退款)


def pay_back(client, member_ref, **fields):
    payload = {"request_id": rid(), "member": member_ref, "store": "SH001", "reason": "会员退卡", **fields}
    return client.post("/api/v1/wallet/refunds/", payload, format="json")


def test_a_manager_pays_back_the_principal_and_the_bonus_is_forfeited(chain, as_user, member, package, sell):
    top_up(as_user(chain.cashier_a), member.code, package=package.pk)
    sell(member.code, "110.00", tenders=[{"kind": "stored_value", "amount": "110.00"}])

    response = pay_back(as_user(chain.manager_a), member.code)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["principal_refunded"], body["bonus_forfeited"]) == ("400.00", "40.00")
    assert body["stored_value"] == {"principal": "0.00", "bonus": "0.00", "total": "0.00"}


def test_the_same_pay_back_again_answers_the_first_with_200(chain, as_user, member, package):
    top_up(as_user(chain.cashier_a), member.code, package=package.pk)
    client = as_user(chain.manager_a)
    payload = {"request_id": rid(), "member": member.code, "store": "SH001", "reason": "会员退卡"}

    first = client.post("/api/v1/wallet/refunds/", payload, format="json")
    again = client.post("/api/v1/wallet/refunds/", payload, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_a_cashier_cannot_pay_stored_value_back(chain, as_user, member, package, snapshot):
    top_up(as_user(chain.cashier_a), member.code, package=package.pk)
    before = snapshot()

    assert_error(pay_back(as_user(chain.cashier_a), member.code), 403, "forbidden")
    before.assert_unchanged()


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"reason": " "}, 400, "reason_required", "reason"),
        ({"request_id": "short"}, 400, "invalid_request_id", "request_id"),
        ({"store": "NOPE"}, 404, "store_not_found", "store"),
        ({"member": "13999999999"}, 404, "member_not_found", "member"),
    ],
)
def test_a_bad_pay_back_is_refused_and_changes_nothing(
    chain, as_user, member, package, snapshot, fields, status, code, field
):
    top_up(as_user(chain.cashier_a), member.code, package=package.pk)
    before = snapshot()

    assert_error(pay_back(as_user(chain.manager_a), member.code, **fields), status, code, field)
    before.assert_unchanged()


def test_an_empty_wallet_cannot_be_paid_back(chain, as_user, member, snapshot):
    before = snapshot()

    assert_error(pay_back(as_user(chain.manager_a), member.code), 400, "wallet_empty", "member")
    before.assert_unchanged()


def test_a_frozen_members_stored_value_is_not_paid_out(chain, as_user, member, package, snapshot):
    top_up(as_user(chain.cashier_a), member.code, package=package.pk)
    member_set_status(member=member, actor=chain.hq_admin, status="frozen", reason="卡片挂失")
    before = snapshot()

    assert_error(pay_back(as_user(chain.manager_a), member.code), 400, "member_frozen", "member")
    before.assert_unchanged()
