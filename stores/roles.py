"""The four roles of DESIGN §5, what each may do, and the Django groups that carry them.

A role is a Django group whose name is the role's value. Besides the model permissions the admin
checks, each role has a set of chain actions (`Action`) that the tablet, the API and services ask
about through `stores.permissions.staff_can`.
"""

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    HQ_ADMIN = "hq_admin", _("HQ admin")
    HQ_MARKETER = "hq_marketer", _("HQ marketer")
    STORE_MANAGER = "store_manager", _("Store manager")
    CASHIER = "cashier", _("Cashier")


HQ_ROLES = frozenset({Role.HQ_ADMIN, Role.HQ_MARKETER})
STORE_ROLES = frozenset({Role.STORE_MANAGER, Role.CASHIER})


class Action(StrEnum):
    # At a store (store-scoped: store staff only at the stores they serve).
    USE_TABLET = "use_tablet"
    LOOKUP_MEMBER = "lookup_member"
    REGISTER_MEMBER = "register_member"
    SELL = "sell"
    TOP_UP = "top_up"
    REQUEST_REFUND = "request_refund"
    APPROVE_REFUND = "approve_refund"
    ADJUST_POINTS = "adjust_points"
    VIEW_STORE_FIGURES = "view_store_figures"
    REVIEW_SALES = "review_sales"
    # Service cards and appointments at the store: recording a use and booking are the till's work;
    # reversing a use, freezing, extending and transferring a card are a manager's.
    USE_SERVICE_CARD = "use_service_card"
    BOOK_APPOINTMENT = "book_appointment"
    MANAGE_SERVICE_CARDS = "manage_service_cards"
    # Back office (chain-wide).
    VIEW_MEMBERS = "view_members"
    EDIT_MEMBERS = "edit_members"
    IMPORT_HISTORY = "import_history"
    VIEW_FULL_PHONE = "view_full_phone"
    EXPORT_DATA = "export_data"
    MANAGE_CAMPAIGNS = "manage_campaigns"
    VIEW_ANALYTICS = "view_analytics"
    MANAGE_RULES = "manage_rules"
    MANAGE_STORES = "manage_stores"
    MANAGE_STAFF = "manage_staff"
    # Members' rights under PIPL: the HQ admin's alone (see the README's "Members' rights").
    ERASE_MEMBER = "erase_member"
    EXPORT_MEMBER_DATA = "export_member_data"


STORE_SCOPED_ACTIONS = frozenset(
    {
        Action.USE_TABLET,
        Action.LOOKUP_MEMBER,
        Action.REGISTER_MEMBER,
        Action.SELL,
        Action.TOP_UP,
        Action.REQUEST_REFUND,
        Action.APPROVE_REFUND,
        Action.ADJUST_POINTS,
        Action.VIEW_STORE_FIGURES,
        Action.REVIEW_SALES,
        Action.USE_SERVICE_CARD,
        Action.BOOK_APPOINTMENT,
        Action.MANAGE_SERVICE_CARDS,
    }
)

_TILL = frozenset(
    {
        Action.USE_TABLET,
        Action.LOOKUP_MEMBER,
        Action.REGISTER_MEMBER,
        Action.SELL,
        Action.TOP_UP,
        Action.REQUEST_REFUND,
        Action.USE_SERVICE_CARD,
        Action.BOOK_APPOINTMENT,
    }
)

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.HQ_ADMIN: frozenset(Action),
    # Marketers read members but see masked phones: campaigns reach members through the outbox, and
    # China's PIPL asks us to show personal data only to those who need it.
    Role.HQ_MARKETER: frozenset(
        {Action.VIEW_MEMBERS, Action.EXPORT_DATA, Action.MANAGE_CAMPAIGNS, Action.VIEW_ANALYTICS}
    ),
    Role.STORE_MANAGER: _TILL
    | {
        Action.APPROVE_REFUND,
        Action.ADJUST_POINTS,
        Action.VIEW_STORE_FIGURES,
        Action.REVIEW_SALES,
        Action.MANAGE_SERVICE_CARDS,
    },
    Role.CASHIER: _TILL,
}

# Model permissions of the Django admin, by role: "app_label.codename" or "app_label.*" for every
# permission of an app, or "app_label.view_*" for every view permission; "!" before one takes it away
# again. Later apps extend this list and call `sync_role_groups` from a migration of their own.
ROLE_MODEL_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.HQ_ADMIN: ("*",),
    Role.HQ_MARKETER: (
        "members.view_*",
        # Which members each staff member looked at is the HQ admin's security record, like the audit trail.
        "!members.view_memberaccess",
        "stores.view_store",
        "stores.view_region",
        "campaigns.*",
        # Analytics is read in the admin; the churn rules' thresholds are HQ admins' to change.
        "analytics.view_*",
        # Cards and bookings are read for renewal campaigns; their configuration is the HQ admin's.
        "servicecards.view_*",
    ),
    Role.STORE_MANAGER: (),
    Role.CASHIER: (),
}


def sync_role_groups(apps) -> None:
    """Create the role groups and give them their model permissions (idempotent; for migrations).

    Permissions are normally created after `migrate`; creating them here first lets a fresh
    database get complete groups in the same migrate run.
    """
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for app_config in apps.get_app_configs():
        # Historical app configs in a migration have no models_module, which makes both creators
        # skip them; pretend for the length of the call.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_contenttypes(app_config, verbosity=0, apps=apps)
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    all_permissions = list(Permission.objects.select_related("content_type"))
    for role, patterns in ROLE_MODEL_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=str(role))
        given = tuple(p for p in patterns if not p.startswith("!"))
        taken = tuple(p[1:] for p in patterns if p.startswith("!"))
        wanted = [p for p in all_permissions if _matches(p, given) and not _matches(p, taken)]
        group.permissions.set(wanted)


def _matches(permission, patterns: tuple[str, ...]) -> bool:
    app_label = permission.content_type.app_label
    for pattern in patterns:
        if pattern == "*":
            return True
        label, _dot, codename = pattern.partition(".")
        if label != app_label:
            continue
        if codename == "*" or codename == permission.codename:
            return True
        if codename.endswith("*") and permission.codename.startswith(codename[:-1]):
            return True
    return False
