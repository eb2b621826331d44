"""The campaigns app's back office, one module per feature."""

from campaigns.admin import automations, campaigns, coupons, effect, mall, messaging, segments  # noqa: F401
