"""REST API of the loyalty app (DESIGN §9): sales, refunds, top-ups, points adjustments."""
