"""Retention: members without any activity for MEMBER_RETENTION_YEARS years are erased (members.erasure), by
a nightly beat task (members.tasks.erase_inactive_members). Off unless the setting is given (None).

Activity is what the member did, not what was done to them: a purchase, a top-up, a sign-in, a points-mall
order (registered by loyalty and campaigns, which members cannot import), or their record being registered
or edited. Points expiring, messages sent and staff looking them up are not activity.

The HQ home lists who the next run will erase, so that an admin can see it coming (and a member who is
still a customer in another way can be kept by editing their record). A member with stored value is not
erased by the rule: money is for a person to hand over; the run reports them instead.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from members.erasure import erase_member
from members.models import Member

# `source(since)` → the ids of members active at or after `since`, as a values_list queryset (a subquery).
ActivitySource = Callable[[datetime], QuerySet]

_sources: list[ActivitySource] = []


def register_activity_source(source: ActivitySource) -> None:
    """Call from AppConfig.ready()."""
    if source not in _sources:
        _sources.append(source)


def retention_years() -> int | None:
    years = getattr(settings, "MEMBER_RETENTION_YEARS", None)
    return years if years else None


def retention_cutoff(*, now: datetime | None = None) -> datetime | None:
    """Members with no activity since this moment are due for erasure; None when the rule is off."""
    years = retention_years()
    if years is None:
        return None
    now = now or timezone.now()
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def members_due_for_erasure(*, now: datetime | None = None) -> QuerySet[Member]:
    """Who the rule erases next, oldest first; none when the rule is off."""
    cutoff = retention_cutoff(now=now)
    if cutoff is None:
        return Member.objects.none()
    due = Member.objects.exclude(status=Member.Status.ERASED).filter(registered_at__lt=cutoff, updated_at__lt=cutoff)
    for source in _sources:
        due = due.exclude(pk__in=source(cutoff))
    return due.order_by("registered_at", "pk")


@dataclass
class RetentionRun:
    erased: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)  # (member code, why)


def retention_erase(*, now: datetime | None = None, limit: int = 1000) -> RetentionRun:
    """Erase up to `limit` members due under the rule, each in its own transaction (erase_member), so one
    refusal keeps that member only. Running it twice, or on two workers, erases each member once."""
    run = RetentionRun()
    years = retention_years()
    if years is None:
        return run
    reason = _("No activity for %(years)d years (retention rule, MEMBER_RETENTION_YEARS).") % {"years": years}
    for member in members_due_for_erasure(now=now)[:limit]:
        try:
            outcome = erase_member(member=member, by=None, reason=reason, stored_value=None)
        except ValidationError as refused:
            run.kept.append((member.code, " ".join(refused.messages)))
            continue
        run.erased += outcome.erased
    return run
