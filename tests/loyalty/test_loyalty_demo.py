from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.models import (
    EarningRule,
    LoyaltySettings,
    MemberStats,
    PointsEntry,
    PointsLot,
    RechargePackage,
    Refund,
    Sale,
    SaleTender,
    Tier,
    TierChange,
    TopUp,
    WalletEntry,
)
from loyalty.reconcile import ledger_mismatches

pytestmark = pytest.mark.django_db

COUNTED = [Sale, Refund, TopUp, PointsEntry, PointsLot, WalletEntry, TierChange, MemberStats, Tier, EarningRule]


def run_demo(members=100) -> str:
    out = StringIO()
    call_command("demo", members=members, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_the_demo_loads_rules_and_a_history_the_ledger_agrees_with():
    output = run_demo()
    out = StringIO()
    call_command("reconcile_ledger", stdout=out)
    assert "all balanced" in out.getvalue()
    assert ledger_mismatches() == []

    settings = LoyaltySettings.objects.get()
    assert (settings.redeem_points_per_yuan, settings.redeem_step, settings.expiry_months) == (100, 100, 12)
    assert [t.name for t in Tier.objects.order_by("rank")] == ["普通会员", "银卡", "金卡", "钻石"]
    assert sorted(RechargePackage.objects.values_list("name", flat=True)) == ["充1000送150", "充200送10", "充500送50"]
    rule = EarningRule.objects.get(name="基础积分")
    assert rule.excluded_categories == ["烟酒", "充值卡"] and rule.combine == "best"

    assert Sale.objects.count() > 50
    assert PointsLot.objects.exists() and WalletEntry.objects.filter(kind="spend").exists()
    assert TopUp.objects.exists() and Refund.objects.exists()
    assert PointsEntry.objects.filter(kind="redeem").exists()
    assert SaleTender.objects.filter(kind="stored_value").exists()
    assert MemberStats.objects.filter(tier__rank__gt=0).exists()
    # The history spreads over the past year, and nothing is in the future.
    first, last = Sale.objects.order_by("created_at").first(), Sale.objects.order_by("created_at").last()
    assert (last.created_at - first.created_at).days > 300
    assert last.created_at <= timezone.now()
    # 烟酒 earns nothing: a sale of only 烟酒 paid in money has no points.
    for sale in Sale.objects.filter(points_redeemed=0, paid_principal=0).prefetch_related("lines")[:200]:
        if all(line.category in ("烟酒", "充值卡") for line in sale.lines.all()):
            assert sale.points_earned == 0
    assert "sales" in output and "top-ups" in output


def test_running_the_demo_twice_changes_nothing():
    run_demo()
    before = counts()
    output = run_demo()
    assert counts() == before
    assert "already loaded" in output
