"""Store staff who look at far more members than their stores serve, for the HQ home (DESIGN §10).

The rule, in one sentence an HQ admin can check against the access log: over the last
MEMBER_ACCESS_WATCH_DAYS days, a cashier or store manager who looked at (found by a search, opened, or
read the full phone of) more distinct members than MEMBER_ACCESS_WATCH_FACTOR times the distinct members
who bought at their stores in those days, and more than MEMBER_ACCESS_WATCH_MIN, is listed.

A till looks up the members it serves (most of them buy), a few more who ask about their points or
register; stepping through name or number prefixes to copy the member base looks up hundreds who never
buy there. The floor keeps a new or quiet store from being listed for a handful of lookups. HQ roles are
not compared (they have no store; their reading is in the same log).

Costs four queries (distinct members per staff member over the window, the listed accounts, their
stores, their stores' buyers); the answer is cached for MEMBER_ACCESS_WATCH_CACHE_SECONDS, as it scans a
week of the log and the HQ home is opened often.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Prefetch
from django.utils import timezone

from loyalty.models import Sale
from members.models import MemberAccess
from stores.models import Store
from stores.names import staff_name
from stores.roles import STORE_ROLES

CACHE_KEY = "analytics:access-watch:v1"


@dataclass(frozen=True)
class StaffLookingTooFar:
    user_id: int
    name: str
    username: str
    stores: tuple[str, ...]
    looked_at: int
    served: int
    limit: int

    @property
    def ratio(self) -> float | None:
        return self.looked_at / self.served if self.served else None


def staff_looking_too_far(*, now: datetime | None = None) -> list[StaffLookingTooFar]:
    """The store staff accounts the rule above lists, most members looked at first."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.MEMBER_ACCESS_WATCH_DAYS)
    floor = settings.MEMBER_ACCESS_WATCH_MIN
    looked = dict(
        MemberAccess.objects.filter(created_at__gte=since, created_at__lte=now, member_id__isnull=False)
        .values("staff_id")
        .annotate(members=Count("member_id", distinct=True))
        .filter(members__gt=floor)
        .values_list("staff_id", "members")
    )
    if not looked:
        return []
    users = list(
        get_user_model()
        .objects.filter(pk__in=looked, groups__name__in=[str(r) for r in STORE_ROLES])
        .distinct()
        .select_related("staff_profile")
        .prefetch_related(Prefetch("staff_profile__stores", queryset=Store.objects.only("id", "code")))
    )
    if not users:
        return []
    served = dict(
        Sale.objects.filter(
            created_at__gte=since,
            created_at__lte=now,
            member_id__isnull=False,
            store__staff__user_id__in=[u.pk for u in users],
        )
        .values("store__staff__user_id")
        .annotate(members=Count("member_id", distinct=True))
        .values_list("store__staff__user_id", "members")
    )
    listed = []
    for user in users:
        profile = getattr(user, "staff_profile", None)
        stores = tuple(sorted(s.code for s in profile.stores.all())) if profile is not None else ()
        bought = served.get(user.pk, 0)
        limit = max(settings.MEMBER_ACCESS_WATCH_FACTOR * bought, floor)
        if looked[user.pk] > limit:
            listed.append(
                StaffLookingTooFar(
                    user_id=user.pk,
                    name=staff_name(user),
                    username=user.get_username(),
                    stores=stores,
                    looked_at=looked[user.pk],
                    served=bought,
                    limit=limit,
                )
            )
    return sorted(listed, key=lambda s: (-s.looked_at, s.user_id))


def staff_looking_too_far_cached() -> list[StaffLookingTooFar]:
    found = cache.get(CACHE_KEY)
    if found is None:
        found = staff_looking_too_far()
        cache.set(CACHE_KEY, found, settings.MEMBER_ACCESS_WATCH_CACHE_SECONDS)
    return found
