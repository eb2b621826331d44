"""The points and liability dashboard: a known ledger history read back to the point."""

from decimal import Decimal

import pytest

from loyalty.models import PointsAccount
from loyalty.services import points_expire_due
from tests.analytics.loyalty_history import (
    assert_marketer_exports_and_others_may_not,
    assert_page_queries,
    board,
    figures,
    give_points,
    refund,
    rows,
    sell,
)
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db
SLUG = "points"


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 10, 10))


@pytest.fixture
def history(chain, clock):
    """王芳 (home store A) and 李娜 (home store B), in March 2026; ¥1 earns 1 point, 100 points pay ¥1.

    3/10 王芳 buys ¥300 at A (+300); 3/11 HQ gives her 200 (no store); 3/12 she pays ¥100 at A with 200
    points (−200, earns 98 on the ¥98 paid); 3/13 the ¥300 sale is refunded (−300 clawed back).
    3/10 李娜 buys ¥500 at B (+500); 3/11 pays ¥100 at B with 500 points (−500, earns 95); 3/12 the
    ¥500 sale is refunded: 95 come back from her balance and 405 become debt.
    """
    LoyaltySettingsFactory(expiry_months=1)
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    wang = MemberFactory(name="王芳", home_store=chain.store_a, store=chain.store_a)
    li = MemberFactory(name="李娜", home_store=chain.store_b, store=chain.store_b)
    first = sell(chain, wang, 300)
    big = sell(chain, li, 500, store=chain.store_b)
    clock.set(local(2026, 3, 11, 10))
    give_points(chain, wang, 200)
    sell(chain, li, 100, store=chain.store_b, points=500)
    clock.set(local(2026, 3, 12, 10))
    sell(chain, wang, 100, points=200)
    refund(chain, big)
    clock.set(local(2026, 3, 13, 10))
    refund(chain, first)
    return {"wang": wang, "li": li}


def test_points_issued_used_and_outstanding_in_the_period(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13")

    table = {row[0]: row for row in rows(result, "by_period")}
    #                    earned other redeemed given expired clawed deducted settled net debt
    assert table["2026-03-10"][1:] == [800, 0, 0, 0, 0, 0, 0, 0, 800, 0]
    assert table["2026-03-11"][1:] == [95, 200, 500, 0, 0, 0, 0, 0, -205, 0]
    assert table["2026-03-12"][1:] == [98, 0, 200, 0, 0, 95, 0, 0, -197, 405]
    assert table["2026-03-13"][1:] == [0, 0, 0, 0, 0, 300, 0, 0, -300, 0]
    assert result.table("by_period").total[1:] == [993, 200, 700, 0, 0, 395, 0, 0, 98, 405]
    balances = PointsAccount.objects.order_by("pk").values_list("available", "pending", "debt")
    assert sum(a + p for a, p, _d in balances) == 98

    shown = figures(result)
    assert shown["Points issued"] == 1193
    assert shown["Points redeemed"] == 700
    assert shown["Points clawed back"] == 800  # 395 from balances, 405 as debt
    assert shown["Outstanding points"] == 98
    assert shown["Outstanding liability"] == Decimal("0.98")
    assert shown["Points debt owed by members"] == 405
    assert shown["Of which pending"] == 0
    kinds = {row[0]: row[1:] for row in rows(result, "by_kind")}
    assert kinds["Clawed back by a refund"] == [2, 0, 395, 405]
    assert kinds["Manual adjustment"] == [1, 200, 0, 0]


def test_a_store_sees_its_own_movements_and_its_members_balances(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13", store=chain.store_b.pk)

    assert result.table("by_period").total[1:] == [595, 0, 500, 0, 0, 95, 0, 0, 0, 405]
    shown = figures(result)
    assert shown["Outstanding points"] == 0  # 李娜 owes 405 and holds nothing
    assert shown["Points debt owed by members"] == 405

    at_a = figures(board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13", store=chain.store_a.pk))
    assert at_a["Points issued"] == 398  # HQ's 200 carry no store
    assert at_a["Outstanding points"] == 98


def test_a_past_period_is_read_back_from_the_ledger_and_expiry_counts(client, chain, history, clock):
    # Debt is settled out of the next points 李娜 earns; 王芳's points expire a month after earning.
    clock.set(local(2026, 4, 20, 10))
    sell(chain, history["li"], 100, store=chain.store_b)
    points_expire_due()

    march = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-11")
    shown = figures(march)
    assert shown["Outstanding points"] == 595  # 王芳 500, 李娜 95 on the evening of 3/11
    assert shown["Points debt owed by members"] == 0
    assert "Of which pending" not in shown

    april = board(client, chain.marketer, SLUG, "2026-04-01", "2026-04-30")
    assert april.table("by_period").total[1:] == [100, 0, 0, 0, 98, 0, 0, 100, -98, 0]
    shown = figures(april)
    assert shown["Points expired"] == 98
    assert shown["Outstanding points"] == 0
    assert shown["Points debt owed by members"] == 305


def test_an_empty_chain_shows_nothing_without_errors(client, chain, clock):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")
    assert result.notes == ["No points movements in this period."]
    assert figures(result)["Outstanding points"] == 0
    assert result.table("by_period").total[1:] == [0] * 10
    assert rows(result, "by_kind") == []


def test_the_query_count_does_not_grow_with_the_history(client, chain, history, clock, django_assert_num_queries):
    # Ending today: the entries, the accounts, the settings; ending earlier: also the entries since.
    for _round in range(2):
        assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 3)
        assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-11", 4)
        sell(chain, history["wang"], 50)
        sell(chain, MemberFactory(home_store=chain.store_b), 80, store=chain.store_b)
        give_points(chain, history["li"], 1000)


def test_marketers_read_and_export_it_and_store_staff_may_not(client, chain, history):
    assert_marketer_exports_and_others_may_not(client, chain, SLUG, "by_period", "2026-03-10", "2026-03-13")
