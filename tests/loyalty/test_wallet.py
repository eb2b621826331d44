"""Stored value (储值): top-ups with packages, the principal/bonus split, refunds and paying principal back."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from loyalty.models import LoyaltySettings, TopUp, Wallet, WalletEntry
from loyalty.reconcile import ledger_mismatches
from loyalty.services import sale_refund, wallet_refund_principal, wallet_top_up
from stores.models import AuditEntry
from tests.factories.loyalty import RechargePackageFactory
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db

D = Decimal
Split = LoyaltySettings.WalletSplit


def error_code(excinfo) -> str:
    return next(iter(excinfo.value.error_dict.values()))[0].code


def wallet_of(member) -> tuple[Decimal, Decimal]:
    wallet = Wallet.objects.get(pk=member.pk)
    return wallet.principal, wallet.bonus


@pytest.fixture
def top_up(chain, member):
    """Top member up with 充500送50 (or another package / amount) at store A."""

    def _top_up(package=None, amount=None, request_id=None, tender="mobile"):
        return wallet_top_up(
            request_id=request_id or rid(),
            member=member,
            store=chain.store_a,
            staff=chain.cashier_a,
            tender=tender,
            package=package if package is not None or amount is not None else RechargePackageFactory(),
            amount=D(amount) if amount is not None else None,
        )

    return _top_up


def test_a_package_top_up_adds_principal_and_bonus(chain, member, top_up):
    topup = top_up()
    assert (topup.amount, topup.bonus) == (D("500.00"), D("50.00"))
    assert wallet_of(member) == (D("500.00"), D("50.00"))
    entry = WalletEntry.objects.get(member_id=member.pk)
    assert (entry.kind, entry.principal, entry.bonus, entry.topup) == (
        WalletEntry.Kind.TOP_UP,
        D("500"),
        D("50"),
        topup,
    )
    assert (entry.store_id, entry.staff_id) == (chain.store_a.pk, chain.cashier_a.pk)


def test_a_plain_amount_top_up_has_no_bonus(member, top_up):
    top_up(amount="88.80")
    assert wallet_of(member) == (D("88.80"), D("0.00"))


def test_the_same_top_up_request_twice_has_one_effect(member, top_up):
    request_id = rid()
    package = RechargePackageFactory()
    first = top_up(package=package, request_id=request_id)
    again = top_up(package=package, request_id=request_id)
    assert again.pk == first.pk
    assert TopUp.objects.count() == 1
    assert wallet_of(member) == (D("500.00"), D("50.00"))
    # A different top-up under the same request id is refused
    with pytest.raises(ValidationError) as excinfo:
        top_up(amount="100.00", request_id=request_id)
    assert error_code(excinfo) == "request_id_reused"
    assert wallet_of(member) == (D("500.00"), D("50.00"))


@pytest.mark.parametrize(
    ("split", "pay", "principal", "bonus"),
    [
        # Proportional keeps the wallet's 10:1 ratio
        (Split.PROPORTIONAL, "110.00", "100.00", "10.00"),
        (Split.PROPORTIONAL, "55.00", "50.00", "5.00"),
        (Split.PROPORTIONAL, "0.01", "0.01", "0.00"),
        (Split.PROPORTIONAL, "550.00", "500.00", "50.00"),
        (Split.PRINCIPAL_FIRST, "520.00", "500.00", "20.00"),
        (Split.PRINCIPAL_FIRST, "60.00", "60.00", "0.00"),
        (Split.BONUS_FIRST, "60.00", "10.00", "50.00"),
        (Split.BONUS_FIRST, "30.00", "0.00", "30.00"),
    ],
)
def test_paying_from_the_wallet_splits_principal_and_bonus_by_the_policy(
    member, sell, policy, top_up, split, pay, principal, bonus
):
    policy.wallet_split = split
    policy.save()
    top_up()
    sale = sell(member, pay, stored_value=pay)
    assert (sale.paid_principal, sale.paid_bonus) == (D(principal), D(bonus))
    assert wallet_of(member) == (D("500.00") - D(principal), D("50.00") - D(bonus))
    spend = WalletEntry.objects.get(sale=sale)
    assert (spend.kind, spend.principal, spend.bonus) == (WalletEntry.Kind.SPEND, -D(principal), -D(bonus))
    # Only principal earns points
    assert sale.points_earned == int(D(principal))


def test_paying_more_than_the_wallet_holds_is_refused(member, sell, top_up):
    top_up()
    with pytest.raises(ValidationError) as excinfo:
        sell(member, "550.01", stored_value="550.01")
    assert error_code(excinfo) == "insufficient_stored_value"
    assert wallet_of(member) == (D("500.00"), D("50.00"))


def test_refunding_a_sale_paid_from_the_wallet_restores_both_parts(chain, member, sell, top_up):
    top_up()
    sale = sell(member, "110.00", stored_value="110.00")
    assert wallet_of(member) == (D("400.00"), D("40.00"))
    refund = sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=D("110.00"))
    assert (refund.principal_restored, refund.bonus_restored, refund.money_refunded) == (
        D("100.00"),
        D("10.00"),
        D("0.00"),
    )
    assert wallet_of(member) == (D("500.00"), D("50.00"))
    restore = WalletEntry.objects.get(refund=refund)
    assert (restore.kind, restore.principal, restore.bonus) == (WalletEntry.Kind.RESTORE, D("100"), D("10"))
    assert ledger_mismatches() == []


def test_paying_principal_back_returns_what_is_left_and_forfeits_the_bonus(chain, member, sell, top_up):
    # Given 充500送50 of which ¥110 was spent: ¥400 principal and ¥40 bonus left
    top_up()
    sell(member, "110.00", stored_value="110.00")
    # When the manager pays the member's stored value back
    request_id = rid()
    entry = wallet_refund_principal(
        member=member, actor=chain.manager_a, store=chain.store_a, reason="会员退卡", request_id=request_id
    )
    # Then the ¥400 principal goes back, the ¥40 bonus is forfeited, and the wallet is empty
    assert (entry.kind, entry.principal, entry.bonus) == (WalletEntry.Kind.WITHDRAW, D("-400.00"), D("-40.00"))
    assert wallet_of(member) == (D("0.00"), D("0.00"))
    audit = AuditEntry.objects.get(action="wallet.principal_refunded")
    assert (audit.actor, audit.reason) == (chain.manager_a, "会员退卡")
    assert audit.data == {"principal": "400.00", "bonus_forfeited": "40.00"}
    # And the same request again changes nothing
    again = wallet_refund_principal(
        member=member, actor=chain.manager_a, store=chain.store_a, reason="会员退卡", request_id=request_id
    )
    assert again.pk == entry.pk
    assert WalletEntry.objects.filter(kind=WalletEntry.Kind.WITHDRAW).count() == 1
    assert ledger_mismatches() == []


def test_paying_principal_back_needs_a_refund_approver(chain, member, top_up):
    top_up()
    with pytest.raises(PermissionDenied):
        wallet_refund_principal(
            member=member, actor=chain.cashier_a, store=chain.store_a, reason="会员退卡", request_id=rid()
        )
    assert wallet_of(member) == (D("500.00"), D("50.00"))
    with pytest.raises(ValidationError) as excinfo:
        wallet_refund_principal(member=member, actor=chain.hq_admin, store=None, reason=" ", request_id=rid())
    assert error_code(excinfo) == "reason_required"
