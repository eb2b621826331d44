"""The card ledger's proofs for reconcile_ledger: each row a card whose cached figure is not its ledger's."""

CHECKS = {
    # Compared to the hundredth: SQLite keeps decimals as REAL.
    "card uses left = sum of card entries": """
        SELECT c.id, c.uses_remaining, COALESCE(e.total, 0)
        FROM servicecards_membercard c
        LEFT JOIN (SELECT card_id, SUM(uses) AS total FROM servicecards_cardentry GROUP BY card_id) e
          ON e.card_id = c.id
        WHERE c.uses_remaining IS NOT NULL AND ROUND(c.uses_remaining, 2) <> ROUND(COALESCE(e.total, 0), 2)
    """,
    "card uses taken = uses − reversals + no-shows": """
        SELECT c.id, c.uses_taken, COALESCE(e.taken, 0)
        FROM servicecards_membercard c
        LEFT JOIN (SELECT card_id, -SUM(uses) AS taken FROM servicecards_cardentry
                   WHERE kind IN ('use', 'reversal', 'no_show') GROUP BY card_id) e ON e.card_id = c.id
        WHERE ROUND(c.uses_taken, 2) <> ROUND(COALESCE(e.taken, 0), 2)
    """,
    "card bought = its purchase and bonus entries": """
        SELECT c.id, c.uses_purchased + c.uses_bonus, COALESCE(e.total, 0)
        FROM servicecards_membercard c
        LEFT JOIN (SELECT card_id, SUM(uses) AS total FROM servicecards_cardentry
                   WHERE kind IN ('purchase', 'bonus') GROUP BY card_id) e ON e.card_id = c.id
        WHERE ROUND(c.uses_purchased + c.uses_bonus, 2) <> ROUND(COALESCE(e.total, 0), 2)
    """,
}
