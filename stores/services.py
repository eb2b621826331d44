from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from stores.models import AuditEntry, StaffProfile, Store
from stores.permissions import forget_staff_access
from stores.roles import HQ_ROLES, Role

User = get_user_model()


def audit_record(
    *,
    actor,
    action: str,
    target=None,
    store: Store | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit row; call it inside the transaction of the change it describes."""
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        store=store,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        reason=reason[:2000],
        data=data or {},
    )


@transaction.atomic
def staff_set_role(*, actor, user, role: Role | str | None, reason: str = "") -> None:
    """Give `user` exactly one role (or none), keep is_staff in step with it, and audit the change.

    Only HQ roles reach the Django admin; store roles work on the tablet only.
    """
    role_value = Role(role).value if role else None
    before = sorted(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    after = [role_value] if role_value else []
    role_groups = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*role_groups)
    if role_value:
        user.groups.add(Group.objects.get(name=role_value))
    is_staff = role_value in {r.value for r in HQ_ROLES} or user.is_superuser
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])
    StaffProfile.objects.get_or_create(user=user)
    forget_staff_access(user)
    if before != after:
        audit_record(
            actor=actor,
            action="staff.role_changed",
            target=user,
            reason=reason,
            data={"username": user.get_username(), "before": before, "after": after},
        )


@transaction.atomic
def staff_set_stores(*, actor, user, stores: Iterable[Store], reason: str = "") -> None:
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    before = sorted(profile.stores.values_list("code", flat=True))
    stores = list(stores)
    profile.stores.set(stores)
    after = sorted(s.code for s in stores)
    forget_staff_access(user)
    if before != after:
        audit_record(
            actor=actor,
            action="staff.stores_changed",
            target=user,
            reason=reason,
            data={"username": user.get_username(), "before": before, "after": after},
        )


@transaction.atomic
def staff_create(
    *,
    actor,
    username: str,
    password: str,
    role: Role | str,
    stores: Iterable[Store] = (),
    first_name: str = "",
    last_name: str = "",
    employee_no: str = "",
) -> User:
    user = User.objects.create_user(username=username, password=password, first_name=first_name, last_name=last_name)
    StaffProfile.objects.create(user=user, employee_no=employee_no)
    staff_set_role(actor=actor, user=user, role=role, reason="created")
    staff_set_stores(actor=actor, user=user, stores=stores, reason="created")
    return user
