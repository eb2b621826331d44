"""The campaigns app's REST API (coupons, points mall, marketing opt-out)."""
