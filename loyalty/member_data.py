"""Loyalty's part of a member's data file (members.data_access): balances, both ledgers, sales with their
lines and tenders, refunds, top-ups and tier changes."""

from loyalty.models import (
    PointsAccount,
    PointsEntry,
    Refund,
    Sale,
    SaleLine,
    SaleTender,
    TierChange,
    TopUp,
    WalletEntry,
)
from loyalty.selectors import member_wallet_balance
from members.data_access import _labelled, register_member_data, rows
from members.models import Member


def _balances(member: Member) -> dict:
    account = PointsAccount.objects.filter(pk=member.pk).first()
    principal, bonus = member_wallet_balance(member)
    return {
        "points_available": account.available if account else 0,
        "points_pending": account.pending if account else 0,
        "points_debt": account.debt if account else 0,
        "stored_value_principal": principal,
        "stored_value_bonus": bonus,
    }


def _points_ledger(member: Member) -> list[dict]:
    entries = rows(
        PointsEntry.objects.filter(member=member).order_by("created_at", "id"),
        ["id", "created_at", "kind", "points", "debt", "store__code", "sale_id", "refund_id", "reason"],
    )
    return _labelled(PointsEntry, entries, "kind")


def _wallet_ledger(member: Member) -> list[dict]:
    entries = rows(
        WalletEntry.objects.filter(member=member).order_by("created_at", "id"),
        ["id", "created_at", "kind", "principal", "bonus", "store__code", "sale_id", "refund_id", "topup_id", "reason"],
    )
    return _labelled(WalletEntry, entries, "kind")


def _sales(member: Member) -> list[dict]:
    sales = rows(
        Sale.objects.filter(member=member).order_by("created_at", "id"),
        [
            "id",
            "created_at",
            "store__code",
            "status",
            "subtotal",
            "tier_discount",
            "coupon_discount",
            "points_redeemed",
            "points_value",
            "paid_money",
            "paid_principal",
            "paid_bonus",
            "points_earned",
        ],
    )
    ids = [sale["id"] for sale in sales]
    lines: dict[int, list] = {}
    for line in rows(
        SaleLine.objects.filter(sale_id__in=ids).order_by("sale_id", "line_no"),
        ["sale_id", "line_no", "category", "sku", "quantity", "unit_price", "amount", "refunded_quantity"],
    ):
        lines.setdefault(line.pop("sale_id"), []).append(line)
    tenders: dict[int, list] = {}
    tender_rows = SaleTender.objects.filter(sale_id__in=ids).order_by("sale_id", "id")
    for tender in rows(tender_rows, ["sale_id", "kind", "amount"]):
        tenders.setdefault(tender.pop("sale_id"), []).append(tender)
    for sale in sales:
        sale["lines"] = lines.get(sale["id"], [])
        sale["tenders"] = tenders.get(sale["id"], [])
    return _labelled(Sale, sales, "status")


def _refunds(member: Member) -> list[dict]:
    return rows(
        Refund.objects.filter(sale__member=member).order_by("created_at", "id"),
        ["id", "created_at", "sale_id", "store__code", "amount", "reason", "money_refunded", "points_clawed_back"],
    )


def _top_ups(member: Member) -> list[dict]:
    return rows(
        TopUp.objects.filter(member=member).order_by("created_at", "id"),
        ["id", "created_at", "store__code", "amount", "bonus", "tender"],
    )


def _tier_changes(member: Member) -> list[dict]:
    return rows(
        TierChange.objects.filter(member=member).order_by("created_at", "id"),
        ["created_at", "from_tier__name", "to_tier__name", "reason"],
    )


def register() -> None:
    register_member_data("balances", _balances)
    register_member_data("points_ledger", _points_ledger)
    register_member_data("stored_value_ledger", _wallet_ledger)
    register_member_data("sales", _sales)
    register_member_data("refunds", _refunds)
    register_member_data("top_ups", _top_ups)
    register_member_data("tier_changes", _tier_changes)
