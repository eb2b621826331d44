from decimal import Decimal

import pytest

from loyalty.models import PointsAccount, Wallet
from loyalty.services import RefundLineInput, sale_refund, wallet_top_up
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db


def test_a_sale_earns_a_point_per_yuan_and_a_refund_takes_it_back(chain, member, sell):
    sale = sell(member, "128.50", cash="128.50")
    assert sale.points_earned == 128
    account = PointsAccount.objects.get(pk=member.pk)
    assert account.available == 128
    redeem = sell(member, "10.00", points=100, cash="9.00")
    assert redeem.points_value == Decimal("1.00")
    refund = sale_refund(
        request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", lines=[RefundLineInput(1, Decimal("1"))]
    )
    assert refund.points_clawed_back == 128
    account.refresh_from_db()
    # 128 earned − 100 redeemed + 9 earned = 37 left; clawing back 128 takes those 37 and leaves 91 of debt
    assert (account.available, account.debt) == (0, 91)
    assert refund.debt_created == 91


def test_top_up_and_pay_from_wallet(chain, member, sell, policy):
    from tests.factories.loyalty import RechargePackageFactory

    wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="mobile",
        package=RechargePackageFactory(),
    )
    sale = sell(member, "110.00", stored_value="110.00")
    wallet = Wallet.objects.get(pk=member.pk)
    assert wallet.principal + wallet.bonus == Decimal("440.00")
    assert sale.paid_principal == Decimal("100.00") and sale.paid_bonus == Decimal("10.00")
    assert sale.points_earned == 100


def test_reconcile_ledger_passes_after_sales_and_refunds_and_fails_on_tampering(chain, member, sell):
    from io import StringIO

    from django.core.management import CommandError, call_command

    sale = sell(member, "200.00", cash="200.00")
    sell(member, "50.00", points=100, cash="49.00")
    sale_refund(request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("80.00"))
    out = StringIO()
    call_command("reconcile_ledger", stdout=out)
    assert "all balanced" in out.getvalue()
    PointsAccount.objects.filter(pk=member.pk).update(available=999)
    with pytest.raises(CommandError, match="mismatches"):
        call_command("reconcile_ledger", stdout=StringIO(), stderr=StringIO())
