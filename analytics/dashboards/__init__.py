"""The HQ dashboards: each module registers its dashboards; the views list them in `order`."""

# Importing a module registers its dashboards.
from analytics.dashboards import (  # noqa: F401
    campaigns,
    members,
    points,
    redemptions,
    referrals,
    rfm,
    service_cards,
    staff,
    stored_value,
    stores,
    tiers,
)
from analytics.dashboards.registry import REGISTRY, dashboards, register

__all__ = ["REGISTRY", "dashboards", "register"]
