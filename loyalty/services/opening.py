"""Opening balances: the points and stored value a member brings from a previous system.

They arrive as columns of the members import (积分余额, 储值余额, also the members export's columns of
the current balances), which lives in members; this module
registers itself there (loyalty.apps → members.imports.extensions) and writes set-based, inside the
import's transaction, over its staging table:

- points: one PointsEntry of kind OPENING under the idempotency key "opening:points", its PointsLot
  (spendable at once, expiring by LoyaltySettings' policy counted from the import time), and the
  PointsAccount moved by a conditional UPDATE … available + n (an upsert for a member without one);
  a member with points debt goes through points.credit() one by one, which settles the debt first;
- stored value: one WalletEntry of kind OPENING under "opening:wallet", all principal (money the
  member paid in the previous system; bonus is not carried over), and the Wallet moved likewise.

Which rows open a balance (decided in check(), set-based over the staging table):

- An opening balance is only ever written for a member without any history in that ledger: no points
  entry of any kind (for points), no wallet entry (for stored value). New members of the file, and
  members registered before without ever earning, topping up or being given anything, qualify.
- For a member with history, the cell is compared with the member's current balance, the figure the
  members export writes in that column (points: available + pending; stored value: principal +
  bonus). Equal: nothing to do, the row is unchanged, so an export imports back without opening its
  balances a second time (which would double them). Equal to the opening balance this member was
  given by an earlier import: nothing to do either, so the same migration file imported again still
  changes nothing after the member bought since. Anything else is a bad row that says why and what to
  do instead: a balance is corrected by an adjustment (audited, with a reason), never by a file.
- Writing is idempotent by the keys above: a member who has an opening entry never gets a second one.

`reconcile_ledger` holds afterwards.
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


def _points_history(t: str) -> str:
    return f"EXISTS (SELECT 1 FROM loyalty_pointsentry h WHERE h.member_id = {t}.member_id)"


def _wallet_history(t: str) -> str:
    return f"EXISTS (SELECT 1 FROM loyalty_walletentry h WHERE h.member_id = {t}.member_id)"


def _points_now(t: str) -> str:
    """The member's points as the members export writes them (积分余额): available and pending."""
    return (
        f"COALESCE((SELECT a.available + a.pending FROM loyalty_pointsaccount a WHERE a.member_id = {t}.member_id), 0)"
    )


def _wallet_now(t: str) -> str:
    """The member's stored value as the members export writes it (储值余额): principal and bonus.
    Rounded to the cent: SQLite keeps decimals as REAL, whose sums can come out as 88.80000000001."""
    return (
        f"COALESCE((SELECT ROUND(w.principal + w.bonus, 2) FROM loyalty_wallet w WHERE w.member_id = {t}.member_id), 0)"
    )


def opening_balances_check(*, stage) -> None:
    """Refuse balance cells that neither open a balance nor repeat the member's (see the module's
    docstring); empty the cells that repeat it; note existing members who get an opening balance."""
    t = stage.table
    points, wallet = f"{t}.points_balance", f"ROUND({t}.stored_value_balance, 2)"
    # A member given opening points by an earlier import: the file must say that amount or the
    # current balance.
    stage.mark_bad(
        f"{points} IS NOT NULL AND e.member_id = {t}.member_id AND e.idempotency_key = '{POINTS_KEY}' "
        f"AND e.points <> {points} AND {points} <> {_points_now(t)}",
        _("Opening points were already imported as %(before)s; this file says %(now)s."),
        from_="loyalty_pointsentry e",
        before="e.points",
        now=points,
    )
    stage.mark_bad(
        f"{t}.stored_value_balance IS NOT NULL AND e.member_id = {t}.member_id "
        f"AND e.idempotency_key = '{WALLET_KEY}' AND ROUND(e.principal, 2) <> {wallet} "
        f"AND {wallet} <> {_wallet_now(t)}",
        _("Opening stored value was already imported as ¥%(before)s; this file says ¥%(now)s."),
        from_="loyalty_walletentry e",
        before="e.principal",
        now=f"{t}.stored_value_balance",
    )
    # A member with any other history (earned at a till, adjusted, topped up …): the file must say the
    # current balance. Opening it as well would count the same points twice.
    stage.mark_bad(
        f"{t}.member_id IS NOT NULL AND {points} IS NOT NULL AND {points} <> {_points_now(t)} "
        f"AND {_points_history(t)} AND NOT EXISTS (SELECT 1 FROM loyalty_pointsentry o "
        f"WHERE o.member_id = {t}.member_id AND o.idempotency_key = '{POINTS_KEY}')",
        _(
            "This member already has a points history (balance %(balance)s). Opening points are only imported "
            "for members without one: adjust points in the back office instead."
        ),
        balance=stage.format_int(_points_now(t)),
    )
    stage.mark_bad(
        f"{t}.member_id IS NOT NULL AND {t}.stored_value_balance IS NOT NULL AND {wallet} <> {_wallet_now(t)} "
        f"AND {_wallet_history(t)} AND NOT EXISTS (SELECT 1 FROM loyalty_walletentry o "
        f"WHERE o.member_id = {t}.member_id AND o.idempotency_key = '{WALLET_KEY}')",
        _(
            "This member already has a stored-value history (balance ¥%(balance)s). Opening stored value is "
            "only imported for members without one: stored value changes by top-ups, payments and refunds only."
        ),
        balance=stage.format_money(_wallet_now(t)),
    )
    # What is left of a member with history repeats a balance: nothing to write, as if the cell were
    # empty. Decided here, not when writing: a till may add a member's first entry in between, and
    # the opening balance this check counted must then still be written.
    stage.execute(
        f"UPDATE {t} SET points_balance = NULL WHERE member_id IS NOT NULL AND points_balance IS NOT NULL "
        f"AND {_points_history(t)}"
    )
    stage.execute(
        f"UPDATE {t} SET stored_value_balance = NULL WHERE member_id IS NOT NULL "
        f"AND stored_value_balance IS NOT NULL AND {_wallet_history(t)}"
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

    # A member who owes points (a refund clawed back points they had spent) has a history and gets no
    # opening points, unless a till wrote their first entries since the check: credit() then settles
    # the debt out of the new lot first, under the account's lock, one at a time.
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
