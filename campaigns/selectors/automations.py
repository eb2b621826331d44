"""Reads of automations: the members each scheduled trigger finds, in chunks of member ids (a dormant
trigger over a million members never loads them all), what the conditions, the frequency cap and the
effects already recorded leave of a chunk, and the back office's lists.

A trigger yields (member_id, occurrence, reason) rows. The occurrence names what happened to the member,
so an effect is recorded once per occurrence (AutomationEffect's UNIQUE): the birthday of 2026, the
dormancy after the last purchase of 2026-03-01 (a member who buys and lapses again is reached again),
the points expiring on 2026-12-31, the tier held since 2025-06-01, the churn risk of 2026-12.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.churn import churn_reasons
from campaigns.messaging.variables import ids_in
from campaigns.models import Automation, AutomationEffect
from campaigns.segments import members_matching
from loyalty.models import MemberStats, PointsLot
from loyalty.selectors import members_at_downgrade_risk
from members.models import Member

CHUNK_SIZE = 2000
# How far ahead a birthday trigger may look (its N): a window of dates is one OR of (month, day) pairs.
BIRTHDAY_MAX_DAYS = 60

Trigger = Automation.Trigger
SCHEDULED_TRIGGERS = (
    Trigger.BIRTHDAY,
    Trigger.DORMANT,
    Trigger.POINTS_EXPIRING,
    Trigger.DOWNGRADE_RISK,
    Trigger.CHURN_RISK,
    Trigger.CARD_EXPIRING,
)
EVENT_TRIGGERS = (Trigger.FIRST_PURCHASE, Trigger.REFERRAL_SUCCESS, Trigger.AFTER_TOPUP)


@dataclass(frozen=True)
class Found:
    member_id: int
    occurrence: str
    reason: str = ""


_OCCURRENCE_WORDS = {
    "birthday": lambda rest: _("Birthday %(year)s") % {"year": rest},
    "dormant": lambda rest: _("No purchase since %(day)s") % {"day": rest},
    "points_expiring": lambda rest: _("Points expiring on %(day)s") % {"day": rest},
    "downgrade": lambda rest: _("Tier held since %(day)s at risk") % {"day": rest.partition(":")[2]},
    "churn": lambda rest: _("Churn risk in %(month)s") % {"month": rest},
    "card_expiring": lambda rest: _("Service card expiring on %(day)s") % {"day": rest},
    "first_purchase": lambda rest: _("First purchase"),
    "referral": lambda rest: _("Referred a new member"),
    "topup": lambda rest: _("Stored value top-up"),
}


def occurrence_label(occurrence: str) -> str:
    """An effect's occurrence key (written by the triggers above and the event hooks) in words."""
    kind, _sep, rest = occurrence.partition(":")
    words = _OCCURRENCE_WORDS.get(kind)
    return words(rest) if words else occurrence


def _local_day(moment: datetime) -> date:
    return timezone.localdate(moment)


# --- triggers ------------------------------------------------------------------------------------


def _celebrated_on(month: int, day: int, year: int) -> date:
    """The day a birthday is celebrated in `year`: 29 February on the 28th in years without it."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def birthday_window(today: date, days: int) -> list[date]:
    return [today + timedelta(days=d) for d in range(min(days, BIRTHDAY_MAX_DAYS) + 1)]


def _birthday_q(window: list[date]) -> Q:
    q = Q()
    for day in window:
        # The birthday's clear month and day: the date itself is encrypted (Member.birthday).
        q |= Q(birth_month=day.month, birth_day=day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            q |= Q(birth_month=2, birth_day=29)
    return q


def _birthday(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """Members whose birthday falls within the next N days (today included): N days before it, or at the
    first run after, so a missed run or an automation started late still reaches them before the day."""
    window = birthday_window(_local_day(now), automation.days)
    members = Member.objects.filter(_birthday_q(window), status=Member.Status.ACTIVE)
    for rows in _keyset(members.values_list("pk", "birth_month", "birth_day"), "pk"):
        found = []
        for member_id, month, day_of_month in rows:
            day = next(
                (
                    d
                    for y in sorted({d.year for d in window})
                    if (d := _celebrated_on(month, day_of_month, y)) in window
                ),
                None,
            )
            if day is not None:
                found.append(Found(member_id, f"birthday:{day.year}"))
        yield found


def _dormant(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """Members whose last purchase is N days old or older (members who never bought are not dormant)."""
    cutoff = now - timedelta(days=automation.days)
    stats = MemberStats.objects.filter(last_purchase_at__lte=cutoff, member__status=Member.Status.ACTIVE)
    for rows in _keyset(stats.values_list("pk", "last_purchase_at"), "pk"):
        yield [Found(member_id, f"dormant:{_local_day(last).isoformat()}") for member_id, last in rows]


def _points_expiring(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """Members with points left in a lot that expires within N days; the occurrence is the first such expiry."""
    lots = (
        PointsLot.objects.filter(
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=automation.days),
            member__status=Member.Status.ACTIVE,
        )
        .values("member_id")
        .annotate(first=Min("expires_at"))
        .values_list("member_id", "first")
    )
    for rows in _keyset(lots, "member_id"):
        yield [Found(member_id, f"points_expiring:{_local_day(first).isoformat()}") for member_id, first in rows]


def _downgrade_risk(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """Members whose tier an evaluation within N days would lower unless they spend (loyalty's
    members_at_downgrade_risk, the back office's list too: the window as it will stand that day)."""
    chunk: list[Found] = []
    for risk in members_at_downgrade_risk(as_of=now, within_days=automation.days):
        stats = risk.stats
        if stats.member.status != Member.Status.ACTIVE:
            continue
        chunk.append(Found(stats.pk, f"downgrade:{stats.tier_id}:{_local_day(stats.tier_since).isoformat()}"))
        if len(chunk) >= CHUNK_SIZE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _churn_risk(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """Members the churn source scores at risk, with their reason; once a month at most."""
    reasons = churn_reasons(now=now)
    month = _local_day(now).strftime("%Y-%m")
    ids = sorted(reasons)
    for start in range(0, len(ids), CHUNK_SIZE):
        chunk = ids[start : start + CHUNK_SIZE]
        active = Member.objects.filter(pk__in=ids_in(chunk), status=Member.Status.ACTIVE).values_list("pk", flat=True)
        active = set(active)
        yield [Found(member_id, f"churn:{month}", reasons[member_id]) for member_id in chunk if member_id in active]


def _card_expiring(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """Members holding a service card (active, uses left) that expires within N days: the downgrade-style
    warning for cards, as points_expiring is for points. The occurrence is the first such expiry, so a
    card extended, or the next card, warns again."""
    from servicecards.models import MemberCard

    cards = (
        MemberCard.objects.filter(
            Q(uses_remaining__isnull=True) | Q(uses_remaining__gt=0),
            status=MemberCard.Status.ACTIVE,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=automation.days),
            member__status=Member.Status.ACTIVE,
        )
        .values("member_id")
        .annotate(first=Min("expires_at"))
        .values_list("member_id", "first")
    )
    for rows in _keyset(cards, "member_id"):
        yield [Found(member_id, f"card_expiring:{_local_day(first).isoformat()}") for member_id, first in rows]


FINDERS = {
    Trigger.BIRTHDAY: _birthday,
    Trigger.DORMANT: _dormant,
    Trigger.POINTS_EXPIRING: _points_expiring,
    Trigger.DOWNGRADE_RISK: _downgrade_risk,
    Trigger.CHURN_RISK: _churn_risk,
    Trigger.CARD_EXPIRING: _card_expiring,
}


def _keyset(rows: QuerySet, key: str) -> Iterator[list[tuple]]:
    """The rows of a values_list queryset whose first column is `key`, in chunks by key (no OFFSET)."""
    last = 0
    while True:
        chunk = list(rows.filter(**{f"{key}__gt": last}).order_by(key)[:CHUNK_SIZE])
        if not chunk:
            return
        last = chunk[-1][0]
        yield chunk


def trigger_found(automation: Automation, *, now: datetime) -> Iterator[list[Found]]:
    """The members a scheduled trigger finds at `now`, in chunks of at most CHUNK_SIZE."""
    finder = FINDERS.get(automation.trigger)
    if finder is None:
        raise ValueError(f"{automation.trigger} is an event trigger: it runs for one member from its hook")
    for chunk in finder(automation, now=now):
        if chunk:
            yield chunk


# --- what a chunk leaves -------------------------------------------------------------------------


def members_meeting_conditions(automation: Automation, member_ids: list[int], *, now: datetime) -> set[int]:
    """Of `member_ids`, those in the automation's segment (all of them without one); raises SegmentRuleError."""
    if automation.segment_id is None:
        return set(member_ids)
    matching = members_matching(automation.segment.rules, now=now).filter(pk__in=ids_in(member_ids))
    return set(matching.values_list("pk", flat=True))


def effects_recorded(automation: Automation, found: list[Found]) -> set[tuple[int, str]]:
    """(member_id, occurrence) of `found` that already have their effect."""
    occurrences = {f.occurrence for f in found}
    rows = AutomationEffect.objects.filter(
        automation=automation, member_id__in=ids_in([f.member_id for f in found]), occurrence__in=occurrences
    ).values_list("member_id", "occurrence")
    return set(rows)


def members_at_cap(automation: Automation, member_ids: list[int], *, now: datetime) -> set[int]:
    """Of `member_ids`, those the automation reached max_per_member times in the last cap_days (held-out
    and skipped effects do not count: nothing was done to them)."""
    rows = (
        AutomationEffect.objects.filter(
            automation=automation,
            member_id__in=ids_in(member_ids),
            skipped="",
            created_at__gt=now - timedelta(days=automation.cap_days),
        )
        .values("member_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=automation.max_per_member)
        .values_list("member_id", flat=True)
    )
    return set(rows)


def reasons_for(automation: Automation, found: list[Found], *, now: datetime) -> dict[int, str]:
    """The churn reason of each member of `found`: the trigger's own (churn risk) or the churn source's."""
    reasons = {f.member_id: f.reason for f in found if f.reason}
    if automation.actions_by_reason and len(reasons) < len(found):
        missing = [f.member_id for f in found if f.member_id not in reasons]
        reasons.update(churn_reasons(now=now, member_ids=missing))
    return reasons


# --- back office ---------------------------------------------------------------------------------

REACHED_DAYS = 30


def automations_admin(queryset: QuerySet[Automation], *, now: datetime | None = None) -> QuerySet[Automation]:
    """The list: each automation with the members it reached (not held out, not skipped) in 30 days."""
    since = (now or timezone.now()) - timedelta(days=REACHED_DAYS)
    return queryset.select_related("segment").annotate(
        reached_30d=Count("effects", filter=Q(effects__skipped="", effects__created_at__gte=since))
    )


def automation_effects(automation: Automation) -> QuerySet[AutomationEffect]:
    """Its effects, newest first, with who and what (coupon code, message status)."""
    return (
        AutomationEffect.objects.filter(automation=automation)
        .select_related("member", "coupon", "message")
        .order_by("-created_at", "-id")
    )


def automation_effect_counts(automation: Automation) -> dict[str, int]:
    """{"": reached, "holdout": n, "frequency_cap": n, …} over all its effects."""
    rows = AutomationEffect.objects.filter(automation=automation).values_list("skipped").annotate(n=Count("pk"))
    return dict(rows)
