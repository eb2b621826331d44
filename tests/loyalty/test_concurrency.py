"""Races on one member, each caller on its own thread and database connection (PostgreSQL only).

Every balance change locks the member's points account row, refunds lock the sale row, and the jobs
re-read each lot under the account lock, so concurrent tills, refunds and workers queue instead of
overspending or doing things twice (DESIGN §4, Concurrency).
"""

import threading
from collections import Counter
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from loyalty.models import PointsAccount, PointsEntry, PointsLot, Refund, Sale, WalletEntry
from loyalty.services import (
    LineInput,
    TenderInput,
    points_adjust,
    points_expire_due,
    sale_checkout,
    sale_refund,
    wallet_refund_principal,
    wallet_top_up,
)
from tests.factories import MemberFactory
from tests.loyalty.conftest import rid

# serialized_rollback: a transactional test empties every table afterwards; this puts back what the
# migrations wrote (the role groups the personas need) before each of these tests.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def race(n: int, work) -> list:
    """Run work(i) on n threads released together; each result is a value or the exception raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not finish"
    return results


def outcome(result) -> str:
    if isinstance(result, ValidationError):
        return next(iter(result.error_dict.values()))[0].code
    if isinstance(result, Exception):
        return f"{type(result).__name__}: {result}"
    return "ok"


def assert_reconciles() -> None:
    out = StringIO()
    call_command("reconcile_ledger", stdout=out)
    assert "all balanced" in out.getvalue()


def cash_sale(chain, member, amount: str, *, points: int = 0, cash: str | None = None, request_id: str | None = None):
    return sale_checkout(
        request_id=request_id or rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=member,
        lines=[LineInput("饮品", Decimal("1"), Decimal(amount))],
        tenders=[TenderInput("cash", Decimal(cash or amount))],
        points_to_redeem=points,
    )


def test_fifty_concurrent_adjustments_spend_only_what_is_there(chain, member, policy):
    # Given 1000 points
    points_adjust(request_id=rid(), member=member, points=1000, reason="开户赠送", actor=chain.hq_admin)
    # When 50 tills each take 30 at once
    results = race(
        50,
        lambda i: points_adjust(
            request_id=f"take-{i:04d}-{rid()}", member=member, points=-30, reason="兑换礼品", actor=chain.hq_admin
        ),
    )
    # Then exactly floor(1000 / 30) = 33 succeed and the rest are told there are not enough points
    assert Counter(map(outcome, results)) == {"ok": 33, "insufficient_points": 17}
    assert PointsAccount.objects.get(pk=member.pk).available == 10
    assert_reconciles()


def test_fifty_concurrent_sales_paying_with_points_spend_only_what_is_there(chain, member, policy):
    # Given 2550 points, and no earning rule: the points spent are the only movement
    points_adjust(request_id=rid(), member=member, points=2550, reason="开户赠送", actor=chain.hq_admin)
    # When 50 tills each ring up a ¥10 sale paying 100 points (¥1) at once
    results = race(50, lambda i: cash_sale(chain, member, "10.00", points=100, cash="9.00"))
    # Then floor(2550 / 100) = 25 succeed and the rest are told there are not enough points
    assert Counter(map(outcome, results)) == {"ok": 25, "insufficient_points": 25}
    assert Sale.objects.filter(points_redeemed=100).count() == 25
    assert PointsAccount.objects.get(pk=member.pk).available == 50
    assert_reconciles()


def test_the_same_sale_sent_ten_times_at_once_creates_one_sale(chain, member, base_rule):
    request_id = rid()
    results = race(10, lambda i: cash_sale(chain, member, "88.00", request_id=request_id))
    assert Counter(map(outcome, results)) == {"ok": 10}
    assert len({sale.pk for sale in results}) == 1
    assert Sale.objects.filter(request_id=request_id).count() == 1
    assert PointsAccount.objects.get(pk=member.pk).available == 88
    assert PointsEntry.objects.filter(member_id=member.pk, kind=PointsEntry.Kind.EARN).count() == 1
    assert_reconciles()


def test_the_same_sale_without_a_member_sent_ten_times_at_once_creates_one_sale(chain, policy):
    request_id = rid()
    results = race(10, lambda i: cash_sale(chain, None, "66.00", request_id=request_id))
    assert Counter(map(outcome, results)) == {"ok": 10}
    assert len({sale.pk for sale in results}) == 1
    assert Sale.objects.filter(request_id=request_id).count() == 1


def test_a_refund_raced_against_itself_applies_once(chain, member, base_rule):
    sale = cash_sale(chain, member, "200.00")
    # When two refund requests with different ids each ask for the whole amount at once
    results = race(
        2,
        lambda i: sale_refund(
            request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("200.00")
        ),
    )
    # Then one is applied and the other finds nothing left to refund
    assert Counter(map(outcome, results)) == {"ok": 1, "refund_exceeds_sale": 1}
    assert Refund.objects.filter(sale=sale).count() == 1
    sale.refresh_from_db()
    assert (sale.status, sale.refunded_amount) == (Sale.Status.REFUNDED, Decimal("200.00"))
    account = PointsAccount.objects.get(pk=member.pk)
    assert (account.available, account.debt) == (0, 0)
    assert_reconciles()


def test_the_same_refund_request_sent_five_times_at_once_applies_once(chain, member, base_rule):
    sale = cash_sale(chain, member, "200.00")
    request_id = rid()
    results = race(
        5,
        lambda i: sale_refund(
            request_id=request_id, sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("50.00")
        ),
    )
    assert Counter(map(outcome, results)) == {"ok": 5}
    assert len({refund.pk for refund in results}) == 1
    sale.refresh_from_db()
    assert sale.refunded_amount == Decimal("50.00")
    assert PointsAccount.objects.get(pk=member.pk).available == 150
    assert_reconciles()


def test_the_expiry_job_run_twice_at_once_expires_once(chain, base_rule):
    # Given five members whose points have expired, and one whose points have not
    members = [MemberFactory() for _ in range(6)]
    for member in members:
        cash_sale(chain, member, "100.00")
    expired = PointsLot.objects.exclude(member=members[-1])
    expired.update(expires_at="2020-01-01T00:00:00Z")
    # When two workers run the job at the same moment
    results = race(2, lambda i: points_expire_due())
    # Then each lot expired once, between them
    assert [outcome(r) for r in results] == ["ok", "ok"]
    assert sum(r["entries"] for r in results) == 5
    assert sum(r["points"] for r in results) == 500
    assert PointsEntry.objects.filter(kind=PointsEntry.Kind.EXPIRE).count() == 5
    assert PointsAccount.objects.get(pk=members[-1].pk).available == 100
    assert PointsAccount.objects.exclude(pk=members[-1].pk).filter(available=0).count() == 5
    assert_reconciles()


def test_sales_refunds_and_the_expiry_job_racing_on_one_member_keep_the_ledger_balanced(chain, member, base_rule):
    # Given a member with points and two sales to refund
    points_adjust(request_id=rid(), member=member, points=5000, reason="开户赠送", actor=chain.hq_admin)
    sales = [cash_sale(chain, member, "100.00") for _ in range(2)]

    def work(i: int):
        kind = i % 4
        if kind == 0:
            return cash_sale(chain, member, "20.00", points=1000, cash="10.00")
        if kind == 1:
            return sale_refund(
                request_id=rid(), sale=sales[i % 2], actor=chain.manager_a, reason="退货", amount=Decimal("10.00")
            )
        if kind == 2:
            return points_expire_due()
        return points_adjust(request_id=rid(), member=member, points=-70, reason="兑换", actor=chain.hq_admin)

    results = race(16, work)
    assert {outcome(r) for r in results} <= {"ok", "insufficient_points"}
    account = PointsAccount.objects.get(pk=member.pk)
    assert account.available >= 0 and account.debt >= 0
    assert_reconciles()


# Issue 16: the manager's daily cap, refunds and request ids under concurrency.


def test_fifteen_parallel_adjustments_by_one_manager_stay_within_the_daily_cap(chain, policy):
    # Given the default caps (500 at a time, 2000 a day) and fifteen members
    members = [MemberFactory() for _ in range(15)]
    # When the manager sends fifteen 450-point adjustments at once, one per member
    results = race(
        15,
        lambda i: points_adjust(
            request_id=rid(), member=members[i], points=450, reason="补录", actor=chain.manager_a, store=chain.store_a
        ),
    )
    # Then four fit in the day's 2000 and the rest are told the cap is reached
    assert Counter(map(outcome, results)) == {"ok": 4, "adjustment_limit_exceeded": 11}
    granted = PointsEntry.objects.filter(kind=PointsEntry.Kind.ADJUST, staff=chain.manager_a)
    assert sum(granted.values_list("points", flat=True)) == 1800
    assert_reconciles()


def test_parallel_partial_refunds_of_one_sale_never_return_more_than_was_paid(chain, member, base_rule):
    sale = cash_sale(chain, member, "200.00")
    # When ten tills each refund ¥30 of the ¥200 sale at once, under their own request ids
    results = race(
        10,
        lambda i: sale_refund(
            request_id=rid(), sale=sale, actor=chain.manager_a, reason="退货", amount=Decimal("30.00")
        ),
    )
    # Then six fit (¥180) and the rest find too little left
    assert Counter(map(outcome, results)) == {"ok": 6, "refund_exceeds_sale": 4}
    sale.refresh_from_db()
    assert sale.refunded_amount == Decimal("180.00") == sum(r.amount for r in Refund.objects.filter(sale=sale))
    assert_reconciles()


def test_one_request_id_sent_for_two_members_at_once_adjusts_one_of_them(chain, member, policy):
    other = MemberFactory()
    request_id = rid()
    results = race(
        2,
        lambda i: points_adjust(
            request_id=request_id, member=(member, other)[i], points=100, reason="补录", actor=chain.hq_admin
        ),
    )
    assert sorted(map(outcome, results)) == ["ok", "request_id_reused"]
    assert PointsEntry.objects.filter(kind=PointsEntry.Kind.ADJUST).count() == 1
    assert_reconciles()


def test_one_payout_request_id_sent_for_two_members_at_once_pays_one_of_them(chain, member, policy):
    other = MemberFactory()
    for someone in (member, other):
        wallet_top_up(
            request_id=rid(), member=someone, store=chain.store_a, staff=chain.cashier_a, tender="cash", amount=100
        )
    request_id = rid()
    results = race(
        2,
        lambda i: wallet_refund_principal(
            request_id=request_id, member=(member, other)[i], actor=chain.manager_a, store=chain.store_a, reason="退卡"
        ),
    )
    assert sorted(map(outcome, results)) == ["ok", "request_id_reused"]
    assert WalletEntry.objects.filter(kind=WalletEntry.Kind.WITHDRAW).count() == 1
    assert_reconciles()
