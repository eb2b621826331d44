"""Refunds: whole, by line, by amount, in several parts; idempotent; debt; points back to their lots."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from loyalty.models import MemberStats, PointsAccount, PointsAllocation, PointsEntry, PointsLot, Refund, Sale, Wallet
from loyalty.reconcile import ledger_mismatches
from loyalty.services import LineInput, RefundLineInput, TenderInput, sale_checkout, sale_refund, wallet_top_up
from tests.factories.loyalty import RechargePackageFactory, TierFactory
from tests.loyalty.clock import Clock, local
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db

D = Decimal


def error_code(excinfo) -> str:
    return next(iter(excinfo.value.error_dict.values()))[0].code


def balances(member) -> tuple[int, int, Decimal, Decimal]:
    account = PointsAccount.objects.get(pk=member.pk)
    wallet = Wallet.objects.filter(pk=member.pk).first()
    return account.available, account.debt, wallet.principal if wallet else D("0"), wallet.bonus if wallet else D("0")


def refund(chain, sale, amount=None, lines=None, request_id=None):
    return sale_refund(
        request_id=request_id or rid(),
        sale=sale,
        actor=chain.manager_a,
        reason="顾客退货",
        amount=D(amount) if amount is not None else None,
        lines=lines,
    )


@pytest.fixture
def mixed_sale(chain, member, sell):
    """A ¥100 sale paid ¥20 with 2000 points, ¥40 from stored value (¥36.36 principal + ¥3.64 bonus) and ¥40 cash."""
    sell(member, "2000.00", cash="2000.00")
    wallet_top_up(
        request_id=rid(),
        member=member,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="mobile",
        package=RechargePackageFactory(),
    )
    sale = sell(member, "100.00", points=2000, stored_value="40.00", cash="40.00")
    assert (sale.points_value, sale.paid_principal, sale.paid_bonus, sale.paid_money) == (
        D("20.00"),
        D("36.36"),
        D("3.64"),
        D("40.00"),
    )
    assert sale.points_earned == 76  # ¥40 cash + ¥36.36 principal
    return sale


def test_a_whole_refund_returns_every_tender_and_takes_back_the_points(chain, member, mixed_sale):
    before = (2000 - 2000 + 76, 0, D("463.64"), D("46.36"))
    assert balances(member) == before
    # When the whole sale is refunded
    r = refund(chain, mixed_sale, "100.00")
    # Then money, principal, bonus and points all come back, and the points it earned go
    assert (r.money_refunded, r.principal_restored, r.bonus_restored) == (D("40.00"), D("36.36"), D("3.64"))
    assert (r.points_restored, r.points_clawed_back, r.debt_created) == (2000, 76, 0)
    assert balances(member) == (2000, 0, D("500.00"), D("50.00"))
    mixed_sale.refresh_from_db()
    assert (mixed_sale.status, mixed_sale.refunded_amount) == (Sale.Status.REFUNDED, D("100.00"))
    assert ledger_mismatches() == []


def test_a_refund_by_line_returns_that_lines_share(chain, member, sell):
    sale = sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", D("1"), D("60.00")), LineInput("零食", D("2"), D("20.00"))],
        tenders=[TenderInput("cash", D("100.00"))],
    )
    # When one of the two snacks comes back
    first = refund(chain, sale, lines=[RefundLineInput(2, D("1"))])
    # Then it is ¥20 and its 20 points
    assert (first.amount, first.money_refunded, first.points_clawed_back) == (D("20.00"), D("20.00"), 20)
    assert sale.lines.get(line_no=2).refunded_quantity == D("1")
    sale.refresh_from_db()
    assert sale.status == Sale.Status.PARTLY_REFUNDED
    # And a line cannot give back more than is left on it
    with pytest.raises(ValidationError) as excinfo:
        refund(chain, sale, lines=[RefundLineInput(2, D("2"))])
    assert error_code(excinfo) == "refund_exceeds_sale"
    # When the rest comes back
    refund(chain, sale, lines=[RefundLineInput(1, D("1")), RefundLineInput(2, D("1"))])
    sale.refresh_from_db()
    assert (sale.status, sale.refunded_amount) == (Sale.Status.REFUNDED, D("100.00"))
    assert balances(member)[:2] == (0, 0)


def test_refunding_a_line_item_by_item_returns_exactly_its_net_amount(chain, member, sell):
    # Given a 10% tier: 3 × ¥3.37 = ¥10.11, less ¥1.01, is ¥9.10 for three items
    MemberStats.objects.update_or_create(member=member, defaults={"tier": TierFactory(discount_percent=D("10"))})
    sale = sell(member, "10.11", cash="9.10")
    sale.lines.update(quantity=D("3"), unit_price=D("3.37"))
    # When the three items come back one at a time
    amounts = [refund(chain, sale, lines=[RefundLineInput(1, D("1"))]).amount for _ in range(3)]
    # Then they add up to the line's ¥9.10 and the sale is refunded in full
    assert amounts == [D("3.03"), D("3.04"), D("3.03")]
    sale.refresh_from_db()
    assert (sale.status, sale.refunded_amount) == (Sale.Status.REFUNDED, D("9.10"))


def test_weighed_goods_can_be_refunded_in_fractions_of_their_quantity(chain, member, policy):
    # Given 0.3 kg of fruit at ¥20/kg
    sale = sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("水果", D("0.3"), D("20.00"))],
        tenders=[TenderInput("cash", D("6.00"))],
    )
    # When 0.1 kg and then 0.2 kg come back (0.1 + 0.2 is not 0.3 in floating point, as SQLite adds)
    first = refund(chain, sale, lines=[RefundLineInput(1, D("0.1"))])
    second = refund(chain, sale, lines=[RefundLineInput(1, D("0.2"))])
    # Then the whole line is refunded
    assert (first.amount, second.amount) == (D("2.00"), D("4.00"))
    assert sale.lines.get().refunded_quantity == D("0.3")
    sale.refresh_from_db()
    assert sale.status == Sale.Status.REFUNDED


def test_free_lines_cannot_be_refunded_for_money(chain, member):
    sale = sale_checkout(
        request_id=rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", D("1"), D("30.00")), LineInput("赠品", D("1"), D("0.00"))],
        tenders=[TenderInput("cash", D("30.00"))],
    )
    with pytest.raises(ValidationError) as excinfo:
        refund(chain, sale, lines=[RefundLineInput(2, D("1"))])
    assert error_code(excinfo) == "invalid_amount"
    assert not Refund.objects.exists()


def test_a_partial_refund_returns_each_tender_in_proportion(chain, member, mixed_sale):
    # When ¥30 of the ¥100 comes back
    r = refund(chain, mixed_sale, "30.00")
    # Then each tender returns its share, rounded down to the cent; money takes the rounding
    assert (r.principal_restored, r.bonus_restored, r.money_refunded) == (D("10.90"), D("1.09"), D("12.01"))
    assert r.points_restored == 600  # ¥6.00 of the ¥20 paid with points
    assert r.points_clawed_back == 22  # floor(76 × 30%)
    assert r.money_refunded + r.principal_restored + r.bonus_restored + D("6.00") == D("30.00")
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    "amounts",
    [
        ["30.00", "30.00", "40.00"],
        ["33.33", "33.33", "33.34"],
        ["0.01", "99.99"],
        ["99.99", "0.01"],
        ["10.00"] * 10,
        ["7.77", "12.34", "50.00", "29.89"],
    ],
)
def test_partial_refunds_that_add_up_to_the_whole_return_exactly_everything(chain, member, mixed_sale, amounts):
    for amount in amounts:
        refund(chain, mixed_sale, amount)
    refunds = Refund.objects.filter(sale=mixed_sale)
    # Then every tender came back exactly, never more
    assert sum(r.money_refunded for r in refunds) == D("40.00")
    assert sum(r.principal_restored for r in refunds) == D("36.36")
    assert sum(r.bonus_restored for r in refunds) == D("3.64")
    assert sum(r.points_restored for r in refunds) == 2000
    assert sum(r.points_clawed_back for r in refunds) == 76
    # And the member is where they were before the sale
    assert balances(member) == (2000, 0, D("500.00"), D("50.00"))
    mixed_sale.refresh_from_db()
    assert mixed_sale.status == Sale.Status.REFUNDED
    assert ledger_mismatches() == []


def test_a_refund_beyond_what_was_paid_is_refused_and_changes_nothing(chain, member, sell):
    sale = sell(member, "100.00", cash="100.00")
    refund(chain, sale, "60.00")
    before = balances(member)
    for too_much in ("40.01", "50.00", "100.00"):
        with pytest.raises(ValidationError) as excinfo:
            refund(chain, sale, too_much)
        assert error_code(excinfo) == "refund_exceeds_sale"
    assert Refund.objects.filter(sale=sale).count() == 1
    assert balances(member) == before
    refund(chain, sale, "40.00")
    sale.refresh_from_db()
    assert sale.status == Sale.Status.REFUNDED


def test_the_same_refund_request_twice_has_one_effect(chain, member, mixed_sale):
    request_id = rid()
    first = refund(chain, mixed_sale, "50.00", request_id=request_id)
    after_first = balances(member)
    again = refund(chain, mixed_sale, "50.00", request_id=request_id)
    assert again.pk == first.pk
    assert Refund.objects.filter(sale=mixed_sale).count() == 1
    assert balances(member) == after_first
    # A different refund under the same request id is refused
    with pytest.raises(ValidationError) as excinfo:
        refund(chain, mixed_sale, "10.00", request_id=request_id)
    assert error_code(excinfo) == "request_id_reused"


def test_a_cashiers_refund_needs_a_managers_approval(chain, member, sell):
    sale = sell(member, "50.00", cash="50.00")
    kwargs = {"sale": sale, "actor": chain.cashier_a, "reason": "退货", "amount": D("50.00")}
    with pytest.raises(ValidationError) as excinfo:
        sale_refund(request_id=rid(), **kwargs)
    assert error_code(excinfo) == "approval_required"
    r = sale_refund(request_id=rid(), approver=chain.manager_a, **kwargs)
    assert r.approved_by == chain.manager_a


def test_refund_after_spending_creates_debt(chain, member, sell):
    # Given 300 points earned by a sale, and then spent
    earning = sell(member, "300.00", cash="300.00")
    sell(member, "10.00", points=300, cash="7.00")
    assert balances(member)[:2] == (7, 0)
    # When the earning sale is refunded
    r = refund(chain, earning, "300.00")
    # Then the 7 points left are taken and the other 293 become debt
    assert (r.points_clawed_back, r.debt_created) == (300, 293)
    assert balances(member)[:2] == (0, 293)
    assert ledger_mismatches() == []
    # When the member earns 500 more
    later = sell(member, "500.00", cash="500.00")
    # Then the debt is settled first, out of the new points
    assert balances(member)[:2] == (207, 0)
    settlement = PointsEntry.objects.get(member_id=member.pk, kind=PointsEntry.Kind.DEBT_SETTLEMENT)
    assert (settlement.points, settlement.debt, settlement.sale_id) == (-293, -293, later.pk)
    assert ledger_mismatches() == []


def test_redeemed_points_go_back_to_the_very_lots_they_came_from(monkeypatch, chain, member, sell):
    clock = Clock(monkeypatch, local(2026, 1, 10))
    # Given 100 points from January and 300 from March
    sell(member, "100.00", cash="100.00")
    clock.set(local(2026, 3, 10))
    sell(member, "300.00", cash="300.00")
    january, march = PointsLot.objects.filter(member=member).order_by("expires_at")
    # And a May sale paid with 300 of them: 100 from January, 200 from March
    clock.set(local(2026, 5, 10))
    sale = sell(member, "10.00", points=300, cash="7.00")
    redeem = PointsEntry.objects.get(sale=sale, kind=PointsEntry.Kind.REDEEM)
    assert dict(redeem.allocations.values_list("lot_id", "points")) == {january.pk: -100, march.pk: -200}
    # When half the sale is refunded, the points go back to the latest-expiring lot first
    first = refund(chain, sale, "5.00")
    restored = PointsEntry.objects.get(refund=first, kind=PointsEntry.Kind.RESTORE)
    assert dict(restored.allocations.values_list("lot_id", "points")) == {march.pk: 150}
    # When the rest is refunded, each lot has what it gave
    second = refund(chain, sale, "5.00")
    restored = PointsEntry.objects.get(refund=second, kind=PointsEntry.Kind.RESTORE)
    assert dict(restored.allocations.values_list("lot_id", "points")) == {march.pk: 50, january.pk: 100}
    january.refresh_from_db()
    march.refresh_from_db()
    assert (january.remaining, march.remaining) == (100, 300)
    assert PointsAllocation.objects.filter(lot__in=[january, march]).count() == 5
    assert ledger_mismatches() == []
