"""The stored-value dashboard: top-ups, spend, refunds and the wallets' liability, agreeing with the
recharge report."""

from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.admin_views import recharge_report
from loyalty.services import wallet_refund_principal
from tests.analytics.loyalty_history import (
    assert_marketer_exports_and_others_may_not,
    assert_page_queries,
    board,
    figures,
    refund,
    rid,
    rows,
    sell,
    top_up,
)
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, RechargePackageFactory
from tests.loyalty.clock import Clock, local

pytestmark = pytest.mark.django_db
SLUG = "stored_value"
D = Decimal


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 10, 10))


@pytest.fixture
def history(chain, clock):
    """3/10 王芳 (home A) tops up 充500送50 at A, 李娜 (home B) ¥200 at B; 3/11 王芳 pays ¥110 with stored
    value (¥100 principal, ¥10 bonus, in proportion); 3/12 that sale is refunded (¥110 back); 3/13 HQ
    pays 李娜's ¥200 principal back to her."""
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=D("1.00"))
    wang = MemberFactory(name="王芳", home_store=chain.store_a, store=chain.store_a)
    li = MemberFactory(name="李娜", home_store=chain.store_b, store=chain.store_b)
    top_up(chain, wang, None, package=RechargePackageFactory())
    top_up(chain, li, 200, store=chain.store_b)
    clock.set(local(2026, 3, 11, 10))
    sale = sell(chain, wang, 110, stored_value=110)
    clock.set(local(2026, 3, 12, 10))
    refund(chain, sale)
    clock.set(local(2026, 3, 13, 10))
    wallet_refund_principal(member=li, actor=chain.hq_admin, store=chain.store_b, reason="退卡", request_id=rid())
    return {"wang": wang, "li": li}


def test_top_ups_spend_refunds_and_liability(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13")

    table = {row[0]: row[1:] for row in rows(result, "by_period")}
    #   top-ups paid bonus spent:principal spent:bonus refunded net paid-back forfeited opening
    assert table["2026-03-10"] == [2, D("700.00"), D("50.00"), 0, 0, 0, 0, 0, 0, 0]
    assert table["2026-03-11"] == [0, 0, 0, D("100.00"), D("10.00"), 0, D("110.00"), 0, 0, 0]
    assert table["2026-03-12"] == [0, 0, 0, 0, 0, D("110.00"), D("-110.00"), 0, 0, 0]
    assert table["2026-03-13"] == [0, 0, 0, 0, 0, 0, 0, D("200.00"), 0, 0]
    shown = figures(result)
    assert shown["Top-ups"] == 2
    assert shown["Paid in"] == D("700.00")
    assert shown["Bonus given"] == D("50.00")
    assert shown["Spent"] == D("110.00")
    assert shown["Refunded back"] == D("110.00")
    assert shown["Outstanding principal"] == D("500.00")
    assert shown["Outstanding bonus"] == D("50.00")
    assert shown["Stored value liability"] == D("550.00")
    link = reverse("admin:loyalty_recharge_report")
    assert any(link in str(note) for note in result.notes)


def test_the_figures_are_the_recharge_reports(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13")
    total = dict(zip([c.key for c in result.table("by_period").columns], result.table("by_period").total, strict=True))
    report = recharge_report(local(2026, 3, 10).date(), local(2026, 3, 13).date(), tables=["store"])[0].totals
    for key in ("topups", "paid", "bonus_given", "spent_principal", "spent_bonus", "restored", "net_spend"):
        assert total[key] == report[key], key


def test_a_store_sees_its_flows_and_its_members_wallets(client, chain, history):
    result = board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13", store=chain.store_b.pk)
    assert result.table("by_period").total[1:] == [1, D("200.00"), 0, 0, 0, 0, 0, D("200.00"), 0, 0]
    shown = figures(result)
    assert (shown["Outstanding principal"], shown["Outstanding bonus"]) == (D("0.00"), D("0.00"))

    at_a = figures(board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-13", store=chain.store_a.pk))
    assert (at_a["Paid in"], at_a["Outstanding principal"], at_a["Outstanding bonus"]) == (
        D("500.00"),
        D("500.00"),
        D("50.00"),
    )


def test_a_past_period_ends_with_the_balances_of_that_evening(client, chain, history):
    shown = figures(board(client, chain.marketer, SLUG, "2026-03-10", "2026-03-11"))
    # 王芳 550 − 110 spent (100 + 10), 李娜 200.
    assert (shown["Outstanding principal"], shown["Outstanding bonus"]) == (D("600.00"), D("40.00"))


def test_an_empty_chain_shows_nothing_without_errors(client, chain, clock):
    result = board(client, chain.marketer, SLUG, "2026-03-01", "2026-03-31")
    assert result.notes[0] == "No stored-value movements in this period."
    assert figures(result)["Stored value liability"] == D("0.00")
    assert result.table("by_period").total[1:] == [0] * 10


def test_the_query_count_does_not_grow_with_the_history(client, chain, history, clock, django_assert_num_queries):
    # Ending today: the entries and the wallets; ending earlier: also the entries since.
    for _round in range(2):
        assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-31", 2)
        assert_page_queries(client, django_assert_num_queries, chain.marketer, SLUG, "2026-03-01", "2026-03-11", 3)
        top_up(chain, history["wang"], 300)
        top_up(chain, MemberFactory(home_store=chain.store_b), 80, store=chain.store_b)
        sell(chain, history["wang"], 30, stored_value=30)


def test_marketers_read_and_export_it_and_store_staff_may_not(client, chain, history):
    assert_marketer_exports_and_others_may_not(client, chain, SLUG, "by_period", "2026-03-10", "2026-03-13")
