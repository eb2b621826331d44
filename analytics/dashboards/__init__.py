"""The HQ dashboards: each module registers its dashboards; the views list them in `order`."""

# Importing a module registers its dashboards.
from analytics.dashboards import campaigns, members, referrals, staff, stores  # noqa: F401
from analytics.dashboards.registry import REGISTRY, dashboards, register

__all__ = ["REGISTRY", "dashboards", "register"]
