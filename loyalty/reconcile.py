"""Proofs of the ledger invariants, set-based (one query each, whatever the number of members)."""

from dataclasses import dataclass

from django.db import connection

CHECKS = {
    "points balance = sum of entries": """
        SELECT a.member_id, a.available + a.pending, COALESCE(e.total, 0)
        FROM loyalty_pointsaccount a
        LEFT JOIN (SELECT member_id, SUM(points) AS total FROM loyalty_pointsentry GROUP BY member_id) e
          ON e.member_id = a.member_id
        WHERE a.available + a.pending <> COALESCE(e.total, 0)
        UNION ALL
        SELECT e.member_id, 0, SUM(e.points) FROM loyalty_pointsentry e
        WHERE NOT EXISTS (SELECT 1 FROM loyalty_pointsaccount a WHERE a.member_id = e.member_id)
        GROUP BY e.member_id HAVING SUM(e.points) <> 0
    """,
    "points balance = sum of open lots": """
        SELECT a.member_id, a.available + a.pending, COALESCE(l.total, 0)
        FROM loyalty_pointsaccount a
        LEFT JOIN (SELECT member_id, SUM(remaining) AS total FROM loyalty_pointslot GROUP BY member_id) l
          ON l.member_id = a.member_id
        WHERE a.available + a.pending <> COALESCE(l.total, 0)
    """,
    "pending balance = sum of pending lots": """
        SELECT a.member_id, a.pending, COALESCE(l.total, 0)
        FROM loyalty_pointsaccount a
        LEFT JOIN (SELECT member_id, SUM(remaining) AS total FROM loyalty_pointslot WHERE is_pending
                   GROUP BY member_id) l ON l.member_id = a.member_id
        WHERE a.pending <> COALESCE(l.total, 0)
    """,
    "debt = sum of entries' debt": """
        SELECT a.member_id, a.debt, COALESCE(e.total, 0)
        FROM loyalty_pointsaccount a
        LEFT JOIN (SELECT member_id, SUM(debt) AS total FROM loyalty_pointsentry GROUP BY member_id) e
          ON e.member_id = a.member_id
        WHERE a.debt <> COALESCE(e.total, 0)
    """,
    "lot remaining = points + its allocations": """
        SELECT l.id, l.remaining, l.points + COALESCE(x.total, 0)
        FROM loyalty_pointslot l
        LEFT JOIN (SELECT lot_id, SUM(points) AS total FROM loyalty_pointsallocation GROUP BY lot_id) x
          ON x.lot_id = l.id
        WHERE l.remaining <> l.points + COALESCE(x.total, 0)
    """,
    # Compared to the cent: SQLite keeps decimals as REAL, so its SUM() can come out as 549.9999999.
    "wallet = sum of wallet entries": """
        SELECT w.member_id, w.principal + w.bonus, COALESCE(e.principal, 0) + COALESCE(e.bonus, 0)
        FROM loyalty_wallet w
        LEFT JOIN (SELECT member_id, SUM(principal) AS principal, SUM(bonus) AS bonus
                   FROM loyalty_walletentry GROUP BY member_id) e ON e.member_id = w.member_id
        WHERE ROUND(w.principal, 2) <> ROUND(COALESCE(e.principal, 0), 2)
           OR ROUND(w.bonus, 2) <> ROUND(COALESCE(e.bonus, 0), 2)
    """,
}


def register_check(name: str, sql: str) -> None:
    """A ledger of an app above loyalty (service cards) adds its proof: rows of (key, cached, computed)."""
    CHECKS[name] = sql


@dataclass
class Mismatch:
    check: str
    key: int
    cached: object
    computed: object


def ledger_mismatches(limit: int = 1000) -> list[Mismatch]:
    found: list[Mismatch] = []
    with connection.cursor() as cursor:
        for name, sql in CHECKS.items():
            cursor.execute(f"SELECT * FROM ({sql}) AS m LIMIT {int(limit)}")
            found += [Mismatch(name, *row) for row in cursor.fetchall()]
    return found
