"""The campaigns app's REST API (coupons, points mall)."""

urlpatterns: list = []
