"""Property test: any sequence of sales, redemptions, refunds, expiry, unlocking and adjustments keeps the
points ledger's invariants (DESIGN §4, Points ledger).

After every step: `ledger_mismatches()` finds nothing (balance = entries = open lots, pending = pending
lots, debt = debt entries, each lot = its points + allocations, wallet = wallet entries), the account's
available, pending and debt are never negative, no spending succeeds beyond the spendable points, and
refunds never return more of a tender than the sale took, and exactly all of it once it is refunded in
full. Once the expiry and unlock jobs have run, every available point can be spent.

Each example runs in a savepoint that is rolled back at its end, with a fresh member and a clock that
starts again, so it runs the same on SQLite and PostgreSQL inside the ordinary test transaction.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from loyalty.models import LoyaltySettings, PointsAccount, PointsLot, Sale, Wallet
from loyalty.reconcile import ledger_mismatches
from loyalty.services import (
    LineInput,
    TenderInput,
    points_adjust,
    points_expire_due,
    points_unlock_due,
    sale_checkout,
    sale_refund,
    wallet_top_up,
)
from tests.factories import MemberFactory
from tests.factories.loyalty import RechargePackageFactory
from tests.loyalty.clock import Clock, local
from tests.loyalty.conftest import rid

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")
Expiry = LoyaltySettings.ExpiryPolicy


def error_code(exc: ValidationError) -> str:
    return next(iter(exc.error_dict.values()))[0].code


def spendable(member_id: int) -> int:
    """Points the member can spend now: unlocked, unexpired lots."""
    return (
        PointsLot.objects.filter(member_id=member_id, remaining__gt=0, is_pending=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .aggregate(total=Sum("remaining"))["total"]
        or 0
    )


def test_any_sequence_of_ledger_operations_keeps_the_invariants(monkeypatch, chain, policy, base_rule):
    clock = Clock(monkeypatch, local(2026, 1, 10))

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self._savepoint = transaction.atomic()
            self._savepoint.__enter__()
            clock.set(local(2026, 1, 10))
            self.member = MemberFactory()
            self.package = RechargePackageFactory()
            self.sales: list[int] = []

        def teardown(self):
            transaction.set_rollback(True)
            self._savepoint.__exit__(None, None, None)

        @initialize(
            expiry=st.sampled_from(
                [(Expiry.ROLLING, 1), (Expiry.ROLLING, 12), (Expiry.ANNUAL, 12), (Expiry.NEVER, 12)]
            ),
            pending_days=st.sampled_from([0, 0, 3]),
        )
        def choose_policy(self, expiry, pending_days):
            LoyaltySettings.objects.filter(pk=policy.pk).update(
                expiry_policy=expiry[0], expiry_months=expiry[1], pending_days=pending_days
            )

        def account(self) -> PointsAccount:
            return PointsAccount.objects.get_or_create(member=self.member)[0]

        def _sale(self, amount: Decimal, *, points: int = 0, stored_value_share: int = 0) -> Sale:
            """A sale of `amount`: points pay their value, stored value its share (%) of the rest, cash the rest."""
            due = amount - Decimal(points) / 100
            wallet = Wallet.objects.filter(pk=self.member.pk).first()
            balance = wallet.balance if wallet else Decimal("0.00")
            stored_value = min(balance, (due * stored_value_share / 100).quantize(CENT))
            tenders = [("stored_value", stored_value), ("cash", due - stored_value)]
            return sale_checkout(
                request_id=rid(),
                store=chain.store_a,
                cashier=chain.cashier_a,
                member=self.member,
                lines=[LineInput("饮品", Decimal("1"), amount)],
                tenders=[TenderInput(kind, value) for kind, value in tenders if value > 0],
                points_to_redeem=points,
            )

        def _all_points_spendable(self):
            account = self.account()
            assert account.available == spendable(self.member.pk)

        def _spend(self, points: int, attempt) -> None:
            """Spending succeeds exactly when the points are there, and never makes a balance negative."""
            can_spend = spendable(self.member.pk)
            try:
                attempt()
            except ValidationError as exc:
                assert error_code(exc) == "insufficient_points"
                assert points > can_spend
            else:
                assert points <= can_spend

        @rule(cents=st.integers(min_value=1, max_value=200_000), package=st.booleans())
        def top_up(self, cents, package):
            wallet_top_up(
                request_id=rid(),
                member=self.member,
                store=chain.store_a,
                staff=chain.cashier_a,
                tender="cash",
                package=self.package if package else None,
                amount=None if package else Decimal(cents) * CENT,
            )

        @rule(cents=st.integers(min_value=1, max_value=200_000), share=st.sampled_from([0, 0, 30, 100]))
        def earn(self, cents, share):
            sale = self._sale(Decimal(cents) * CENT, stored_value_share=share)
            self.sales.append(sale.pk)

        @rule(
            hundreds=st.integers(min_value=1, max_value=20),
            extra_cents=st.integers(min_value=0, max_value=10_000),
            share=st.sampled_from([0, 50, 100]),
        )
        def redeem(self, hundreds, extra_cents, share):
            points = hundreds * 100
            # Points pay at most half of a sale: make the sale at least twice their value.
            amount = Decimal(points) / 50 + Decimal(extra_cents) * CENT

            def attempt():
                self.sales.append(self._sale(amount, points=points, stored_value_share=share).pk)

            self._spend(points, attempt)

        @rule(points=st.integers(min_value=-800, max_value=800).filter(bool))
        def adjust(self, points):
            def attempt():
                points_adjust(request_id=rid(), member=self.member, points=points, reason="调整", actor=chain.hq_admin)

            if points > 0:
                attempt()
            else:
                self._spend(-points, attempt)

        @rule(pick=st.integers(min_value=0), cents=st.one_of(st.none(), st.integers(min_value=1, max_value=50_000)))
        def refund(self, pick, cents):
            open_sales = [s for s in Sale.objects.filter(pk__in=self.sales) if s.refunded_amount < s.paid_total]
            if not open_sales:
                return
            sale = open_sales[pick % len(open_sales)]
            left = sale.paid_total - sale.refunded_amount
            amount = left if cents is None else min(left, Decimal(cents) * CENT)
            before = self.account()
            # HQ: time passes, and a sale may be past the refund window.
            refund = sale_refund(request_id=rid(), sale=sale, actor=chain.hq_admin, reason="退货", amount=amount)
            after = self.account()
            # Debt grows by exactly what the clawback could not take from the lots
            assert after.debt - before.debt == refund.debt_created

        @rule(days=st.integers(min_value=1, max_value=400))
        def time_passes(self, days):
            clock.advance(days=days)
            points_unlock_due()
            points_expire_due()
            self._all_points_spendable()

        @rule(pick=st.integers(min_value=0))
        def a_lot_expires_now(self, pick):
            lots = list(PointsLot.objects.filter(member=self.member, remaining__gt=0).order_by("id"))
            if not lots:
                return
            lot = lots[pick % len(lots)]
            PointsLot.objects.filter(pk=lot.pk).update(expires_at=timezone.now())
            summary = points_expire_due()
            assert summary["points"] >= lot.remaining
            self._all_points_spendable()

        @invariant()
        def ledger_reconciles(self):
            assert ledger_mismatches() == []

        @invariant()
        def refunds_return_each_tender_at_most_once_and_all_of_it_in_the_end(self):
            for sale in Sale.objects.filter(pk__in=self.sales).prefetch_related("refunds"):
                refunds = list(sale.refunds.all())
                returned = (
                    sum((r.money_refunded for r in refunds), Decimal(0)),
                    sum((r.principal_restored for r in refunds), Decimal(0)),
                    sum((r.bonus_restored for r in refunds), Decimal(0)),
                    sum(r.points_restored for r in refunds),
                    sum(r.points_clawed_back for r in refunds),
                )
                took = (sale.paid_money, sale.paid_principal, sale.paid_bonus, sale.points_redeemed, sale.points_earned)
                assert all(0 <= r <= t for r, t in zip(returned, took, strict=True)), (returned, took)
                assert sum(r.amount for r in refunds) == sale.refunded_amount
                if sale.status == Sale.Status.REFUNDED:
                    assert returned == took

        @invariant()
        def balances_are_never_negative(self):
            account = self.account()
            assert account.available >= 0
            assert account.pending >= 0
            assert account.debt >= 0

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
