"""Writes of the campaigns app, one module per feature (coupons, segments, messaging, mall, campaigns,
automations)."""
