from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from stores.models import AuditEntry, IntegrationToken, StaffProfile, Store
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


@transaction.atomic
def integration_token_create(*, actor, user, name: str, days: int) -> tuple[IntegrationToken, str]:
    """A new token for an integration account → the row and the token itself, which is kept nowhere:
    whoever asked for it must copy it now."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ValidationError(_("Name the integration that uses this token."))})
    if not 1 <= days <= 366:
        raise ValidationError({"days": ValidationError(_("A token is valid for 1 to 366 days."))})
    if not user.is_active:
        raise ValidationError({"user": ValidationError(_("This account is not active."))})
    token, raw = IntegrationToken.objects.create(user=user, expiry=timedelta(days=days), name=name, created_by=actor)
    audit_record(
        actor=actor,
        action="integration_token.created",
        target=token,
        data={"username": user.get_username(), "name": name, "starts_with": token.token_key, "days": days},
    )
    return token, raw


@transaction.atomic
def integration_token_revoke(*, actor, token: IntegrationToken, reason: str = "") -> bool:
    """Stop a token working from now on; False when it was revoked already."""
    revoked = IntegrationToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        token.refresh_from_db(fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="integration_token.revoked",
            target=token,
            reason=reason,
            data={"username": token.user.get_username(), "name": token.name, "starts_with": token.token_key},
        )
    return bool(revoked)


@transaction.atomic
def login_unlock(*, actor, username: str | None = None, address: str | None = None, reason: str = "") -> int:
    """Forget the failed logins of an account or of an address, which lifts its lockout → how many
    attempt records were cleared."""
    from axes.handlers.proxy import AxesProxyHandler

    if not username and not address:
        raise ValueError("an account or an address to unlock")
    cleared = AxesProxyHandler.reset_attempts(username=username or None, ip_address=address or None)
    audit_record(
        actor=actor,
        action="login.unlocked",
        reason=reason,
        data={"username": username or "", "address": address or "", "attempts_cleared": cleared},
    )
    return cleared
