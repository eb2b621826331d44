"""One place that answers "may this staff member do X at store Y" for views, the API and services."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from stores.models import Store
from stores.roles import HQ_ROLES, ROLE_ACTIONS, STORE_SCOPED_ACTIONS, Action, Role


@dataclass(frozen=True)
class StaffAccess:
    roles: frozenset[str]
    actions: frozenset[Action]
    chain_wide: bool
    store_ids: frozenset[int]


_NO_ACCESS = StaffAccess(roles=frozenset(), actions=frozenset(), chain_wide=False, store_ids=frozenset())


def staff_access(user) -> StaffAccess:
    """The user's roles, actions and stores, loaded once per user object (two queries)."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_active:
        return _NO_ACCESS
    cached = getattr(user, "_staff_access", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        roles = frozenset({Role.HQ_ADMIN.value})
    else:
        roles = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
    actions = frozenset().union(*(ROLE_ACTIONS[Role(r)] for r in roles)) if roles else frozenset()
    chain_wide = bool(roles & {r.value for r in HQ_ROLES})
    store_ids: frozenset[int] = frozenset()
    if roles and not chain_wide:
        store_ids = frozenset(Store.objects.filter(staff__user=user, is_active=True).values_list("id", flat=True))
    access = StaffAccess(roles=roles, actions=actions, chain_wide=chain_wide, store_ids=store_ids)
    user._staff_access = access
    return access


def forget_staff_access(user) -> None:
    """Drop the cached answer after the user's role or stores change."""
    user.__dict__.pop("_staff_access", None)


def staff_can(user, action: Action, store: Store | None = None) -> bool:
    """May `user` do `action`, at `store` when the action happens at a store.

    For a store-scoped action with no store the question is "at any store at all". An inactive store
    accepts no store-scoped action from anyone.
    """
    access = staff_access(user)
    if action not in access.actions:
        return False
    if action not in STORE_SCOPED_ACTIONS:
        return True
    if store is None:
        return access.chain_wide or bool(access.store_ids)
    if not store.is_active:
        return False
    return access.chain_wide or store.pk in access.store_ids


def require_staff_can(user, action: Action, store: Store | None = None) -> None:
    if not staff_can(user, action, store):
        if store is not None and action in STORE_SCOPED_ACTIONS:
            raise PermissionDenied(_("You may not do this at store %(store)s.") % {"store": store.code})
        raise PermissionDenied(_("Your role does not allow this."))


def require_staff_can_at(user, action: Action, store: Store | None) -> None:
    """As require_staff_can, for a write that records where it was made: store staff must name the store
    (store_required); only chain-wide roles act without one, and the write is then HQ's."""
    if (
        store is None
        and action in STORE_SCOPED_ACTIONS
        and not staff_access(user).chain_wide
        and staff_can(user, action)
    ):
        raise ValidationError(
            {"store": ValidationError(_("Say at which of your stores this is done."), code="store_required")}
        )
    require_staff_can(user, action, store)
