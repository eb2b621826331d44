"""Opening balances: the points and stored value a member brings from a previous system.

They arrive as columns of the members import (积分余额, 储值余额), which lives in members; this module
registers itself there (loyalty.apps → members.imports.extensions) and writes set-based, inside the
import's transaction, over its staging table:

- points: one PointsEntry of kind OPENING under the idempotency key "opening:points", its PointsLot
  (spendable at once, expiring by LoyaltySettings' policy counted from the import time), and the
  PointsAccount moved by a conditional UPDATE … available + n (an upsert for a member without one);
  a member with points debt goes through points.credit() one by one, which settles the debt first;
- stored value: one WalletEntry of kind OPENING under "opening:wallet", all principal (money the
  member paid in the previous system; bonus is not carried over), and the Wallet moved likewise.

Idempotent by those keys: a member who already has an opening entry of the same amount is left alone;
another amount is refused as a bad row (an opening balance is set once; correct it with an
adjustment). `reconcile_ledger` holds afterwards.
"""

import secrets
from datetime import datetime

from django.utils.translation import gettext as _

from loyalty.models import LoyaltySettings, PointsEntry, WalletEntry
from loyalty.services.locks import lock_points_account
from loyalty.services.points import EntryContext, credit
from loyalty.services.policy import expiry_for
from members.imports.columns import ImportColumn
from members.resources import MoneyWidget, PointsWidget

POINTS_KEY = "opening:points"
WALLET_KEY = "opening:wallet"


def _points_pending(t: str) -> str:
    return (
        f"{t}.error IS NULL AND {t}.points_balance > 0 AND NOT EXISTS (SELECT 1 FROM loyalty_pointsentry e "
        f"WHERE e.member_id = {t}.member_id AND e.idempotency_key = '{POINTS_KEY}')"
    )


def _wallet_pending(t: str) -> str:
    return (
        f"{t}.error IS NULL AND {t}.stored_value_balance > 0 AND NOT EXISTS (SELECT 1 FROM loyalty_walletentry e "
        f"WHERE e.member_id = {t}.member_id AND e.idempotency_key = '{WALLET_KEY}')"
    )


def opening_balances_check(*, stage) -> None:
    """Refuse rows whose member has an opening balance of another amount; note members who get one."""
    t = stage.table
    stage.mark_bad(
        f"{t}.points_balance > 0 AND e.member_id = {t}.member_id AND e.idempotency_key = '{POINTS_KEY}' "
        f"AND e.points <> {t}.points_balance",
        _("Opening points were already imported as %(before)s; this file says %(now)s."),
        from_="loyalty_pointsentry e",
        before="e.points",
        now=f"{t}.points_balance",
    )
    stage.mark_bad(
        f"{t}.stored_value_balance > 0 AND e.member_id = {t}.member_id AND e.idempotency_key = '{WALLET_KEY}' "
        f"AND e.principal <> {t}.stored_value_balance",
        _("Opening stored value was already imported as ¥%(before)s; this file says ¥%(now)s."),
        from_="loyalty_walletentry e",
        before="e.principal",
        now=f"{t}.stored_value_balance",
    )
    stage.execute(
        f"UPDATE {t} SET touched = TRUE WHERE member_id IS NOT NULL AND (({_points_pending(t)}) "
        f"OR ({_wallet_pending(t)}))"
    )


def opening_balances_summary(*, stage) -> list[tuple[str, str]]:
    """What the import opens (or would open): members and totals of points and of stored value."""
    t = stage.table
    points_members, points = stage.fetchone(
        f"SELECT COUNT(*), COALESCE(SUM(points_balance), 0) FROM {t} WHERE {_points_pending(t)}"
    )
    wallet_members, amount = stage.fetchone(
        f"SELECT COUNT(*), COALESCE(SUM(stored_value_balance), 0) FROM {t} WHERE {_wallet_pending(t)}"
    )
    return [
        (
            _("Opening points"),
            _("%(members)s members, %(points)s points") % {"members": f"{points_members:,}", "points": f"{points:,}"},
        ),
        (
            _("Opening stored value"),
            _("%(members)s members, ¥%(amount)s")
            % {"members": f"{wallet_members:,}", "amount": f"{round(float(amount), 2):,.2f}"},
        ),
    ]


def opening_balances_apply(*, stage, staff_id: int | None, now: datetime) -> None:
    """Write the opening entries, lots, accounts and wallets of the staging table's good rows (whose
    members all exist by now). Call inside the import's transaction."""
    t = stage.table
    param = stage.param
    policy = LoyaltySettings.current()
    reason = _("Opening balance (import)")[:255]
    token = secrets.token_hex(4)
    points, wallets = f"opening_points_{token}", f"opening_wallet_{token}"
    money = "numeric(12, 2)" if stage.is_postgresql else "decimal"
    stage.execute(f"CREATE TEMP TABLE {points} (member_id bigint PRIMARY KEY, points integer, store_id bigint)")
    stage.execute(f"CREATE TEMP TABLE {wallets} (member_id bigint PRIMARY KEY, amount {money}, store_id bigint)")
    stage.execute(
        f"INSERT INTO {points} (member_id, points, store_id) SELECT {t}.member_id, {t}.points_balance, "
        f"m.home_store_id FROM {t} JOIN members_member m ON m.id = {t}.member_id WHERE {_points_pending(t)}"
    )
    stage.execute(
        f"INSERT INTO {wallets} (member_id, amount, store_id) SELECT {t}.member_id, {t}.stored_value_balance, "
        f"m.home_store_id FROM {t} JOIN members_member m ON m.id = {t}.member_id WHERE {_wallet_pending(t)}"
    )

    # Members who owe points (a refund clawed back points they had spent) are rare: credit() settles
    # their debt out of the new lot first, under their account's lock, one at a time.
    in_debt = stage.fetchall(
        f"SELECT o.member_id, o.points, o.store_id FROM {points} o "
        f"JOIN loyalty_pointsaccount a ON a.member_id = o.member_id WHERE a.debt > 0"
    )
    for member_id, amount, store_id in in_debt:
        account = lock_points_account(member_id)
        credit(
            account,
            points=amount,
            kind=PointsEntry.Kind.OPENING,
            key=POINTS_KEY,
            ctx=EntryContext(store_id=store_id, staff_id=staff_id, reason=reason),
            now=now,
            policy=policy,
            pending=False,
        )
        stage.execute(f"DELETE FROM {points} WHERE member_id = %s", [member_id])

    at = param(now)
    expires = param(expires_at) if (expires_at := expiry_for(now, policy)) else None
    insert_entries = (
        "INSERT INTO loyalty_pointsentry (member_id, kind, points, debt, idempotency_key, store_id, staff_id, "
        f"reason, created_at) SELECT member_id, %s, points, 0, %s, store_id, %s, %s, %s FROM {points}"
    )
    lots = (
        "INSERT INTO loyalty_pointslot (member_id, entry_id, points, remaining, available_at, expires_at, "
        "is_pending, created_at) "
    )
    if stage.is_postgresql:
        # Each entry's lot straight from the entries as they are inserted.
        stage.execute(
            f"WITH e AS ({insert_entries} RETURNING id, member_id, points) "
            f"{lots} SELECT member_id, id, points, points, %s, %s, FALSE, %s FROM e",
            [PointsEntry.Kind.OPENING, POINTS_KEY, staff_id, reason, at, at, expires, at],
        )
    else:
        stage.execute(insert_entries, [PointsEntry.Kind.OPENING, POINTS_KEY, staff_id, reason, at])
        stage.execute(
            f"{lots} SELECT e.member_id, e.id, e.points, e.points, %s, %s, FALSE, %s "
            f"FROM {points} o JOIN loyalty_pointsentry e ON e.member_id = o.member_id AND e.idempotency_key = %s",
            [at, expires, at, POINTS_KEY],
        )
    # The account moves by what was added, under the row lock the UPDATE takes: a till holding the
    # member's account is waited for, not overwritten.
    stage.execute(
        "INSERT INTO loyalty_pointsaccount (member_id, available, pending, debt, lifetime_earned, updated_at) "
        f"SELECT member_id, points, 0, 0, points, %s FROM {points} WHERE TRUE ON CONFLICT (member_id) DO UPDATE "
        "SET available = loyalty_pointsaccount.available + excluded.available, "
        "lifetime_earned = loyalty_pointsaccount.lifetime_earned + excluded.lifetime_earned, "
        "updated_at = excluded.updated_at",
        [at],
    )
    stage.execute(
        "INSERT INTO loyalty_walletentry (member_id, kind, principal, bonus, idempotency_key, store_id, staff_id, "
        f"created_at) SELECT member_id, %s, amount, 0, %s, store_id, %s, %s FROM {wallets}",
        [WalletEntry.Kind.OPENING, WALLET_KEY, staff_id, at],
    )
    stage.execute(
        "INSERT INTO loyalty_wallet (member_id, principal, bonus, updated_at) "
        f"SELECT member_id, amount, 0, %s FROM {wallets} WHERE TRUE ON CONFLICT (member_id) DO UPDATE "
        "SET principal = loyalty_wallet.principal + excluded.principal, updated_at = excluded.updated_at",
        [at],
    )
    stage.execute(f"DROP TABLE {points}")
    stage.execute(f"DROP TABLE {wallets}")


class OpeningBalancesImport:
    """The members import's extension for opening balances (registered by loyalty.apps)."""

    name = "loyalty.opening_balances"

    def columns(self) -> list[ImportColumn]:
        return [
            ImportColumn(
                "points_balance",
                "积分余额",
                ("points balance", "points", "opening points", "积分", "当前积分", "可用积分", "剩余积分"),
                PointsWidget(),
                sql_type="integer",
            ),
            ImportColumn(
                "stored_value_balance",
                "储值余额",
                (
                    *("stored value balance", "stored value", "balance", "wallet balance"),
                    *("储值", "余额", "储值卡余额", "会员卡余额", "卡内余额"),
                ),
                MoneyWidget(),
                sql_type="money",
            ),
        ]

    def check(self, stage) -> None:
        opening_balances_check(stage=stage)

    def summary(self, stage) -> list[tuple[str, str]]:
        return opening_balances_summary(stage=stage)

    def apply(self, stage, *, staff_id: int | None, now: datetime) -> None:
        opening_balances_apply(stage=stage, staff_id=staff_id, now=now)
