"""Segment rules: a list of conditions over members, all of which must hold, compiled to one query.

A rule is ``{"field": <name>, "op": <op>, "value": <value>}``. Each field is registered here with
the operators it accepts, how its value is checked and how it becomes a ``Q`` on ``Member``; the
back office's rule builder, the live count, campaigns and automations all go through
``members_matching`` so that a segment means the same everywhere.

Two checks, both reporting every bad rule at once, each message naming its rule ("Rule 2 (Tier): …"):

- ``compile_rules`` (what ``members_matching`` runs): the shape and values of each rule;
- ``validate_rules`` (what saving and the live count run): that too, and what needs the database or
  the rules together: ids that do not exist (a deleted tag), and rules that contradict each other
  (two disjoint spend ranges, a tag both required and excluded), which could only ever match nobody.

RFM segment and churn risk are scored by the analytics app, which has no tables yet: their rules ask
a score source that analytics registers (``register_score_source``); until one is, such a rule is
refused ("No scores yet: run score_members") rather than silently matching nobody.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import F, Q, QuerySet, Sum, TextChoices
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.models import Member

MAX_RULES = 30
MAX_CHOICES = 1000
# Ids beyond a bigint would make PostgreSQL fail the query instead of matching nothing.
MAX_ID = 2**53


class RfmSegment(TextChoices):
    """The RFM segments analytics assigns; the codes are stored in segments' rules: never change them."""

    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE = "cant_lose", _("Can't lose")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class ChurnRisk(TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class ChurnReason(TextChoices):
    """Why a member is slipping (analytics decides; win-back automations act per reason)."""

    PRICE_SENSITIVE = "price_sensitive", _("Price sensitive")
    CATEGORY_SHIFT = "category_shift", _("Buys other categories")
    LONG_INACTIVE = "long_inactive", _("Long inactive")


class SegmentRuleError(ValueError):
    """Rules that cannot be compiled; ``errors`` holds one message per bad rule (index, message)."""

    def __init__(self, errors: list[tuple[int | None, str]]):
        self.errors = errors
        super().__init__("; ".join(str(message) for _, message in errors))


@dataclass(frozen=True)
class RuleField:
    name: str
    label: Any
    kind: str  # "choice" | "range" | "number" | "date_range" | "month" | "tags" | "top" | "expiring" | "churn"
    compile: Callable[[str, Any, dt.datetime], Q]
    ops: tuple[str, ...]
    choices: Callable[[], list[tuple[Any, Any]]] | None = None
    unit: Any = ""
    # Fields that cannot be expressed as a filter on one member (top N) are applied afterwards.
    post: Callable[[QuerySet, Any], QuerySet] | None = None
    help_text: Any = ""
    extra: dict = field(default_factory=dict)
    # The value in its stored form (whole numbers as int, money as a "12.50" string), or ValueError;
    # compile gets what it returns. None: the value is stored as given.
    clean: Callable[[str, Any], Any] | None = None


FIELDS: dict[str, RuleField] = {}


def register_field(rule_field: RuleField) -> None:
    """Other apps add fields; the last registration wins."""
    FIELDS[rule_field.name] = rule_field


# --- score sources (analytics) -------------------------------------------------------------------
#
# A source is called with the rule's cleaned value as keyword arguments and ``now``:
#   "rfm_segment": source(segments=["champions", …], now=…)
#   "churn_risk":  source(levels=["high", …], reasons=["price_sensitive", …], now=…)  (either may be [])
# and returns a Q on Member, or a queryset of member ids (``….values("member_id")``), or None while
# nothing has been scored yet.

ScoreSource = Callable[..., "Q | QuerySet | None"]
_score_sources: dict[str, ScoreSource] = {}


def register_score_source(name: str, source: ScoreSource) -> None:
    """Call from analytics' AppConfig.ready(); the last registration wins."""
    _score_sources[name] = source


def unregister_score_source(name: str) -> None:
    _score_sources.pop(name, None)


def _scored_q(name: str, now: dt.datetime, **value) -> Q:
    source = _score_sources.get(name)
    found = source(now=now, **value) if source is not None else None
    if found is None:
        raise ValueError(_("No scores yet: run score_members."))
    if isinstance(found, Q):
        return found
    return Q(pk__in=found)


# --- value checks --------------------------------------------------------------------------------


def _number(value: Any, *, label: Any) -> Decimal:
    if isinstance(value, (bool, dict, list)):
        raise ValueError(_("%(label)s must be a number.") % {"label": label})
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValueError(_("%(label)s must be a number.") % {"label": label}) from None
    if not number.is_finite():
        raise ValueError(_("%(label)s must be a number.") % {"label": label})
    return number


def range_bounds(value: Any, *, whole: bool = False, maximum: int = 10**12) -> tuple[Decimal | None, Decimal | None]:
    """``{"min": a, "max": b}`` with either bound optional; min must not exceed max."""
    if not isinstance(value, dict) or not ({"min", "max"} & set(value)):
        raise ValueError(_("Give a lowest value, a highest value or both."))
    low = value.get("min")
    high = value.get("max")
    low = None if low in (None, "") else _number(low, label=_("The lowest value"))
    high = None if high in (None, "") else _number(high, label=_("The highest value"))
    if low is None and high is None:
        raise ValueError(_("Give a lowest value, a highest value or both."))
    bounds = [b for b in (low, high) if b is not None]
    if any(b < 0 for b in bounds):
        raise ValueError(_("Values cannot be negative."))
    if any(b > maximum for b in bounds):
        raise ValueError(_("Values cannot be above %(max)s.") % {"max": f"{maximum:,}"})
    if whole and any(b != b.to_integral_value() for b in bounds):
        raise ValueError(_("Give whole numbers."))
    if low is not None and high is not None and low > high:
        raise ValueError(_("The lowest value is above the highest; no member could match."))
    return low, high


def _ids(value: Any, *, codes: Iterable[str] | None = None) -> list:
    """A non-empty list of ids (or of `codes`), sorted and without repeats."""
    if not isinstance(value, list) or not value:
        raise ValueError(_("Choose at least one."))
    if len(value) > MAX_CHOICES:
        raise ValueError(_("Choose at most %(max)d.") % {"max": MAX_CHOICES})
    if codes is not None:
        allowed = set(codes)
        if any(not isinstance(v, str) or v not in allowed for v in value):
            raise ValueError(_("Unknown choice."))
        return sorted(set(value))
    ids = set()
    for v in value:
        if isinstance(v, (bool, float)):
            raise ValueError(_("Unknown choice."))
        try:
            number = int(str(v).strip())
        except (TypeError, ValueError):
            raise ValueError(_("Unknown choice.")) from None
        if not 0 < number < MAX_ID:
            raise ValueError(_("Unknown choice."))
        ids.add(number)
    return sorted(ids)


def _range_value(low: Decimal | None, high: Decimal | None, *, whole: bool) -> dict:
    def stored(bound: Decimal) -> int | str:
        return int(bound) if whole else str(bound.quantize(Decimal("0.01")))

    cleaned = {}
    if low is not None:
        cleaned["min"] = stored(low)
    if high is not None:
        cleaned["max"] = stored(high)
    return cleaned


def _range_clean(*, whole: bool, maximum: int) -> Callable[[str, Any], dict]:
    def clean(op: str, value: Any) -> dict:
        low, high = range_bounds(value, whole=whole, maximum=maximum)
        return _range_value(low, high, whole=whole)

    return clean


def _range_q(lookup: str, value: Any) -> Q:
    low, high = range_bounds(value)
    q = Q()
    if low is not None:
        q &= Q(**{f"{lookup}__gte": low})
    if high is not None:
        q &= Q(**{f"{lookup}__lte": high})
    return q


# --- the fields ----------------------------------------------------------------------------------


def _ids_clean(op: str, value: Any) -> list[int]:
    return _ids(value)


def _tier_q(op: str, value: Any, now: dt.datetime) -> Q:
    return Q(stats__tier_id__in=_ids(value))


def _home_store_q(op: str, value: Any, now: dt.datetime) -> Q:
    return Q(home_store_id__in=_ids(value))


def _tags_q(op: str, value: Any, now: dt.datetime) -> Q:
    ids = _ids(value)
    # Subqueries, not joins: a member with two of the tags must still be one row.
    from members.models import Tag

    through = Tag.members.through.objects
    if op == "all":
        q = Q()
        for tag_id in ids:
            q &= Q(pk__in=through.filter(tag_id=tag_id).values("member_id"))
        return q
    tagged = through.filter(tag_id__in=ids).values("member_id")
    return ~Q(pk__in=tagged) if op == "none" else Q(pk__in=tagged)


MAX_DAYS = 36_500  # a hundred years: beyond it a date would leave the calendar


def _days_since_purchase_q(op: str, value: Any, now: dt.datetime) -> Q:
    low, high = range_bounds(value, whole=True, maximum=MAX_DAYS)
    q = Q()
    # Within [low, high] days: the last purchase lies between now - high and now - low.
    if low is not None:
        q &= Q(stats__last_purchase_at__lte=now - dt.timedelta(days=int(low)))
    if high is not None:
        q &= Q(stats__last_purchase_at__gte=now - dt.timedelta(days=int(high)))
    return q


def _spend_q(op: str, value: Any, now: dt.datetime) -> Q:
    return _range_q("stats__total_spend", value)


def _visits_q(op: str, value: Any, now: dt.datetime) -> Q:
    return _range_q("stats__purchase_count", value)


def _points_q(op: str, value: Any, now: dt.datetime) -> Q:
    return _range_q("points_account__available", value)


def _months_clean(op: str, value: Any) -> list[int]:
    months = _ids(value)
    if any(m < 1 or m > 12 for m in months):
        raise ValueError(_("A month is a number from 1 to 12."))
    return months


def _birthday_month_q(op: str, value: Any, now: dt.datetime) -> Q:
    return Q(birth_month__in=_months_clean(op, value))


def _date(value: Any, *, label: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(_("%(label)s is not a date (YYYY-MM-DD).") % {"label": label}) from None
    if not 1900 <= day.year <= 2999:
        raise ValueError(_("%(label)s must lie between 1900 and 2999.") % {"label": label})
    return day


def _date_bounds(value: Any) -> tuple[dt.date | None, dt.date | None]:
    if not isinstance(value, dict):
        raise ValueError(_("Give a first day, a last day or both."))
    start = _date(value.get("from"), label=_("The first day"))
    end = _date(value.get("to"), label=_("The last day"))
    if start is None and end is None:
        raise ValueError(_("Give a first day, a last day or both."))
    if start and end and start > end:
        raise ValueError(_("The first day is after the last day; no member could match."))
    return start, end


def _dates_clean(op: str, value: Any) -> dict:
    start, end = _date_bounds(value)
    cleaned = {}
    if start:
        cleaned["from"] = start.isoformat()
    if end:
        cleaned["to"] = end.isoformat()
    return cleaned


def _registered_q(op: str, value: Any, now: dt.datetime) -> Q:
    start, end = _date_bounds(value)
    q = Q()
    if start:
        q &= Q(registered_at__gte=_local_midnight(start))
    if end:
        q &= Q(registered_at__lt=_local_midnight(end + dt.timedelta(days=1)))
    return q


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _top_n(value: Any) -> int:
    n = _number(value, label=_("N"))
    if n != int(n) or n < 1 or n > 1_000_000:
        raise ValueError(_("N must be a whole number from 1 to 1,000,000."))
    return int(n)


def _top_q(op: str, value: Any, now: dt.datetime) -> Q:
    _top_n(value)
    return Q()


def _top_post(queryset: QuerySet, value: Any) -> QuerySet:
    n = _top_n(value)
    # Ties broken by the older member so that the same N are chosen every time; members who never
    # earned (no points account) last, which PostgreSQL's DESC would otherwise put first.
    top = queryset.order_by(F("points_account__available").desc(nulls_last=True), "pk").values("pk")[:n]
    return Member.objects.filter(pk__in=top)


MAX_EXPIRY_DAYS = 3650
MAX_POINTS = 1_000_000_000


def _expiring_clean(op: str, value: Any) -> dict:
    if not isinstance(value, dict) or value.get("days") in (None, ""):
        raise ValueError(_("Give the number of days."))
    days = _number(value["days"], label=_("The number of days"))
    if days != int(days) or not 1 <= days <= MAX_EXPIRY_DAYS:
        raise ValueError(_("The number of days must be a whole number from 1 to %(max)d.") % {"max": MAX_EXPIRY_DAYS})
    cleaned: dict[str, int] = {"days": int(days)}
    least = value.get("min_points")
    if least not in (None, ""):
        least = _number(least, label=_("The least points"))
        if least != int(least) or not 1 <= least <= MAX_POINTS:
            raise ValueError(
                _("The least points must be a whole number from 1 to %(max)s.") % {"max": f"{MAX_POINTS:,}"}
            )
        cleaned["min_points"] = int(least)
    return cleaned


def _expiring_q(op: str, value: Any, now: dt.datetime) -> Q:
    from loyalty.models import PointsLot

    value = _expiring_clean(op, value)
    lots = PointsLot.objects.filter(
        remaining__gt=0, expires_at__gt=now, expires_at__lte=now + dt.timedelta(days=value["days"])
    )
    if "min_points" in value:
        lots = (
            lots.order_by()
            .values("member_id")
            .annotate(expiring=Sum("remaining"))
            .filter(expiring__gte=value["min_points"])
        )
    return Q(pk__in=lots.values("member_id"))


def _rfm_clean(op: str, value: Any) -> list[str]:
    return _ids(value, codes=RfmSegment.values)


def _rfm_q(op: str, value: Any, now: dt.datetime) -> Q:
    return _scored_q("rfm_segment", now, segments=_rfm_clean(op, value))


def _churn_clean(op: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(_("Choose a risk level, a reason or both."))
    cleaned = {}
    for key, codes in (("levels", ChurnRisk.values), ("reasons", ChurnReason.values)):
        chosen = value.get(key) or []
        if chosen:
            cleaned[key] = _ids(chosen, codes=codes)
    if not cleaned:
        raise ValueError(_("Choose a risk level, a reason or both."))
    return cleaned


def _churn_q(op: str, value: Any, now: dt.datetime) -> Q:
    value = _churn_clean(op, value)
    return _scored_q("churn_risk", now, levels=value.get("levels", []), reasons=value.get("reasons", []))


def _tier_choices() -> list[tuple[Any, Any]]:
    from loyalty.models import Tier

    return [(t.pk, t.name) for t in Tier.objects.order_by("rank")]


def _store_choices() -> list[tuple[Any, Any]]:
    from stores.models import Store

    return [(s.pk, f"{s.code} {s.name}") for s in Store.objects.order_by("code")]


def _tag_choices() -> list[tuple[Any, Any]]:
    from members.models import Tag

    return [(t.pk, t.name) for t in Tag.objects.order_by("name")]


def _month_choices() -> list[tuple[Any, Any]]:
    from django.utils.dates import MONTHS

    return list(MONTHS.items())


def _rfm_choices() -> list[tuple[Any, Any]]:
    return list(RfmSegment.choices)


def _churn_choices() -> list[tuple[Any, Any]]:
    return list(ChurnRisk.choices)


def _churn_reason_choices() -> list[tuple[Any, Any]]:
    return list(ChurnReason.choices)


for _field in (
    RuleField(
        "tier", _("Tier"), "choice", _tier_q, ("in",), choices=_tier_choices, clean=_ids_clean, extra={"db": True}
    ),
    RuleField(
        "home_store",
        _("Home store"),
        "choice",
        _home_store_q,
        ("in",),
        choices=_store_choices,
        clean=_ids_clean,
        extra={"db": True},
    ),
    RuleField(
        "tags",
        _("Tags"),
        "tags",
        _tags_q,
        ("any", "all", "none"),
        choices=_tag_choices,
        clean=_ids_clean,
        extra={"db": True},
    ),
    RuleField(
        "days_since_purchase",
        _("Days since last purchase"),
        "range",
        _days_since_purchase_q,
        ("between",),
        unit=_("days"),
        help_text=_("Members who never bought are not included."),
        clean=_range_clean(whole=True, maximum=MAX_DAYS),
        extra={"whole": True},
    ),
    RuleField(
        "spend",
        _("Total spend"),
        "range",
        _spend_q,
        ("between",),
        unit="¥",
        clean=_range_clean(whole=False, maximum=10**10),
    ),
    RuleField(
        "visits",
        _("Purchases"),
        "range",
        _visits_q,
        ("between",),
        clean=_range_clean(whole=True, maximum=MAX_POINTS),
        extra={"whole": True},
    ),
    RuleField(
        "points",
        _("Points balance"),
        "range",
        _points_q,
        ("between",),
        unit=_("points"),
        clean=_range_clean(whole=True, maximum=MAX_POINTS),
        extra={"whole": True},
    ),
    RuleField(
        "points_expiring",
        _("Points expiring within N days"),
        "expiring",
        _expiring_q,
        ("within",),
        unit=_("days"),
        help_text=_("Members with points that expire in the next N days; optionally at least this many points."),
        clean=_expiring_clean,
    ),
    RuleField(
        "birthday_month",
        _("Birthday month"),
        "month",
        _birthday_month_q,
        ("in",),
        choices=_month_choices,
        clean=_months_clean,
    ),
    RuleField("registered", _("Registration date"), "date_range", _registered_q, ("between",), clean=_dates_clean),
    RuleField(
        "rfm_segment",
        _("RFM segment"),
        "choice",
        _rfm_q,
        ("in",),
        choices=_rfm_choices,
        clean=_rfm_clean,
        help_text=_("Scored by analytics (score_members)."),
    ),
    RuleField(
        "churn_risk",
        _("Churn risk"),
        "churn",
        _churn_q,
        ("in",),
        choices=_churn_choices,
        clean=_churn_clean,
        help_text=_("Scored by analytics (score_members); a level, a reason or both."),
        extra={"reasons": _churn_reason_choices},
    ),
    RuleField(
        "top_points",
        _("Top N by points"),
        "top",
        _top_q,
        ("top",),
        post=_top_post,
        clean=lambda op, value: _top_n(value),
        help_text=_("The N members with the most points among those the other rules match."),
    ),
):
    register_field(_field)


# --- service cards (servicecards): renewal offers -----------------------------------------------------
#
# A card "held" is an active card (not frozen, not refunded) that has not expired and has uses left (a
# period card always has). A visit is a use of a card that was not reversed.

MAX_CARD_USES = 10_000


def _cards_held(now: dt.datetime):
    from servicecards.models import MemberCard

    return MemberCard.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        Q(uses_remaining__isnull=True) | Q(uses_remaining__gt=0),
        status=MemberCard.Status.ACTIVE,
    )


def _card_expiring_q(op: str, value: Any, now: dt.datetime) -> Q:
    """A card held expires between now + min and now + max days."""
    low, high = range_bounds(value, whole=True, maximum=MAX_DAYS)
    cards = _cards_held(now).filter(expires_at__isnull=False)
    if low is not None:
        cards = cards.filter(expires_at__gte=now + dt.timedelta(days=int(low)))
    if high is not None:
        cards = cards.filter(expires_at__lte=now + dt.timedelta(days=int(high)))
    return Q(pk__in=cards.values("member_id"))


def _card_uses_left_q(op: str, value: Any, now: dt.datetime) -> Q:
    """A count or lesson-hours card held has between min and max uses left."""
    low, high = range_bounds(value, maximum=MAX_CARD_USES)
    cards = _cards_held(now).filter(uses_remaining__isnull=False)
    if low is not None:
        cards = cards.filter(uses_remaining__gte=low)
    if high is not None:
        cards = cards.filter(uses_remaining__lte=high)
    return Q(pk__in=cards.values("member_id"))


def _card_no_visit_q(op: str, value: Any, now: dt.datetime) -> Q:
    """Holds a card, and their last visit (or, before any, their latest card's purchase) lies between
    now − max and now − min days."""
    from servicecards.models import CardEntry, MemberCard

    low, high = range_bounds(value, whole=True, maximum=MAX_DAYS)

    def active_since(days: int) -> Q:
        since = now - dt.timedelta(days=days)
        visits = CardEntry.objects.filter(
            kind=CardEntry.Kind.USE, reversed_by__isnull=True, created_at__gt=since
        ).values("member_id")
        bought = MemberCard.objects.filter(purchased_at__gt=since).values("member_id")
        return Q(pk__in=visits) | Q(pk__in=bought)

    q = Q(pk__in=_cards_held(now).values("member_id"))
    if low is not None:
        q &= ~active_since(int(low))
    if high is not None:
        q &= active_since(int(high))
    return q


for _field in (
    RuleField(
        "card_expiring",
        _("Service card expires within (days)"),
        "range",
        _card_expiring_q,
        ("between",),
        unit=_("days"),
        help_text=_(
            "Members holding an active service card with uses left that expires in this many days from now: "
            "give the highest for “within N days”."
        ),
        clean=_range_clean(whole=True, maximum=MAX_DAYS),
        extra={"whole": True},
    ),
    RuleField(
        "card_uses_left",
        _("Uses left on a service card"),
        "range",
        _card_uses_left_q,
        ("between",),
        unit=_("uses"),
        help_text=_(
            "Members holding an active, unexpired count or lesson-hours card with this many uses left: give "
            "the highest for “M uses or fewer”."
        ),
        clean=_range_clean(whole=False, maximum=MAX_CARD_USES),
    ),
    RuleField(
        "card_no_visit",
        _("Days without a visit while holding a service card"),
        "range",
        _card_no_visit_q,
        ("between",),
        unit=_("days"),
        help_text=_(
            "Members holding an active service card who have not used a card for this many days (counted from "
            "their latest card's purchase if they never did): give the lowest for “no visit for N days”."
        ),
        clean=_range_clean(whole=True, maximum=MAX_DAYS),
        extra={"whole": True},
    ),
):
    register_field(_field)


# --- compiling -----------------------------------------------------------------------------------


def rule_label(index: int, rule_field: RuleField | None = None) -> str:
    """Rule 2 (Tier): how messages name a rule (numbered from 1, as the builder shows them)."""
    if rule_field is None:
        return gettext("Rule %(number)d") % {"number": index + 1}
    return gettext("Rule %(number)d (%(field)s)") % {"number": index + 1, "field": rule_field.label}


def _named(index: int, rule_field: RuleField | None, message: Any) -> tuple[int, str]:
    return index, gettext("%(rule)s: %(message)s") % {"rule": rule_label(index, rule_field), "message": message}


@dataclass(frozen=True)
class ParsedRule:
    index: int
    field: RuleField
    op: str
    value: Any  # cleaned


def parse_rules(rules: Any) -> tuple[list[ParsedRule], list[tuple[int | None, str]]]:
    """Every rule checked on its own: the good ones (values cleaned) and one message per bad one."""
    if not isinstance(rules, list):
        return [], [(None, gettext("Rules must be a list."))]
    if len(rules) > MAX_RULES:
        return [], [(None, gettext("A segment has at most %(max)d rules.") % {"max": MAX_RULES})]
    parsed, errors = [], []
    seen_post: set[str] = set()
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            errors.append(_named(index, None, _("A rule needs a field, an operator and a value.")))
            continue
        name = rule.get("field")
        rule_field = FIELDS.get(name) if isinstance(name, str) else None
        if rule_field is None:
            if name in (None, ""):
                errors.append(_named(index, None, _("Choose a field.")))
            else:
                errors.append(_named(index, None, _("Unknown field “%(field)s”.") % {"field": str(name)[:40]}))
            continue
        op = rule.get("op") or rule_field.ops[0]
        if op not in rule_field.ops:
            errors.append(
                _named(
                    index,
                    rule_field,
                    _("“%(op)s” does not apply to %(field)s.") % {"op": str(op)[:20], "field": rule_field.label},
                )
            )
            continue
        if rule_field.post is not None and rule_field.name in seen_post:
            errors.append(_named(index, rule_field, _("%(field)s can be used once.") % {"field": rule_field.label}))
            continue
        try:
            value = rule_field.clean(op, rule.get("value")) if rule_field.clean else rule.get("value")
        except ValueError as error:
            errors.append(_named(index, rule_field, error))
            continue
        if rule_field.post is not None:
            seen_post.add(rule_field.name)
        parsed.append(ParsedRule(index, rule_field, op, value))
    return parsed, errors


def compile_rules(rules: Any, *, now: dt.datetime | None = None) -> tuple[Q, list[tuple[RuleField, Any]]]:
    """The filter of the rules and the post-steps (top N) to apply after it; raises SegmentRuleError
    with a message for every bad rule."""
    now = now or timezone.now()
    parsed, errors = parse_rules(rules)
    q, post = Q(), []
    for rule in parsed:
        try:
            q &= rule.field.compile(rule.op, rule.value, now)
        except ValueError as error:
            errors.append(_named(rule.index, rule.field, error))
            continue
        if rule.field.post is not None:
            post.append((rule.field, rule.value))
    if errors:
        raise SegmentRuleError(sorted(errors, key=lambda e: -1 if e[0] is None else e[0]))
    return q, post


def clean_rules(rules: Any) -> list[dict]:
    """The rules as they are stored (values in their clean form); raises SegmentRuleError."""
    parsed, errors = parse_rules(rules)
    if errors:
        raise SegmentRuleError(errors)
    return [{"field": r.field.name, "op": r.op, "value": r.value} for r in parsed]


# --- what needs the database or the rules together -------------------------------------------------


def _unknown_ids(parsed: list[ParsedRule]) -> list[tuple[int, str]]:
    errors = []
    known: dict[str, dict] = {}
    for rule in parsed:
        if not rule.field.extra.get("db") or rule.field.choices is None:
            continue
        if rule.field.name not in known:
            known[rule.field.name] = dict(rule.field.choices())
        missing = [v for v in rule.value if v not in known[rule.field.name]]
        if missing:
            errors.append(
                _named(
                    rule.index,
                    rule.field,
                    _("%(ids)s no longer exists (or never did); choose again.")
                    % {"ids": ", ".join(f"#{v}" for v in missing[:5])},
                )
            )
    return errors


def _choice_names(rule: ParsedRule, values: Iterable) -> str:
    labels = dict(rule.field.choices()) if rule.field.choices else {}
    return "、".join(str(labels.get(v, v)) for v in values)


def _contradictions(parsed: list[ParsedRule]) -> list[tuple[int, str]]:
    """Rules that together can match nobody: reported on the later rule, naming the earlier."""
    errors = []
    by_field: dict[str, list[ParsedRule]] = {}
    for rule in parsed:
        by_field.setdefault(rule.field.name, []).append(rule)
    for rules in by_field.values():
        kind = rules[0].field.kind
        first = rules[0]
        if kind in ("range", "date_range"):
            low_key, high_key = ("min", "max") if kind == "range" else ("from", "to")

            def key(v, kind=kind):
                return Decimal(str(v)) if kind == "range" else v

            low = high = None
            for rule in rules:
                lo, hi = rule.value.get(low_key), rule.value.get(high_key)
                low = key(lo) if lo is not None and (low is None or key(lo) > low) else low
                high = key(hi) if hi is not None and (high is None or key(hi) < high) else high
                if low is not None and high is not None and low > high:
                    errors.append(
                        _named(
                            rule.index,
                            rule.field,
                            _("contradicts %(other)s: the two ranges do not overlap, so no member could match.")
                            % {"other": rule_label(first.index)},
                        )
                    )
                    break
        elif kind in ("choice", "month"):
            common = set(first.value)
            for rule in rules[1:]:
                common &= set(rule.value)
                if not common:
                    errors.append(
                        _named(
                            rule.index,
                            rule.field,
                            _("contradicts %(other)s: no choice is in both, so no member could match.")
                            % {"other": rule_label(first.index)},
                        )
                    )
                    break
        elif kind == "churn":
            for part in ("levels", "reasons"):
                with_part = [r for r in rules if part in r.value]
                if len(with_part) < 2:
                    continue
                common = set(with_part[0].value[part])
                for rule in with_part[1:]:
                    common &= set(rule.value[part])
                    if not common:
                        errors.append(
                            _named(
                                rule.index,
                                rule.field,
                                _("contradicts %(other)s: no choice is in both, so no member could match.")
                                % {"other": rule_label(with_part[0].index)},
                            )
                        )
                        break
        elif kind == "tags":
            required = [(r, set(r.value)) for r in rules if r.op in ("any", "all")]
            for rule in (r for r in rules if r.op == "none"):
                for other, tags in required:
                    both = sorted(tags & set(rule.value))
                    if both:
                        errors.append(
                            _named(
                                rule.index,
                                rule.field,
                                _("%(tags)s is both required (%(other)s) and excluded; no member could match.")
                                % {"tags": _choice_names(rule, both), "other": rule_label(other.index)},
                            )
                        )
                        break
    return errors


def validate_rules(rules: Any, *, now: dt.datetime | None = None) -> list[dict]:
    """Everything wrong with the rules at once (SegmentRuleError), or the rules as they are stored.

    On top of compile_rules: ids that do not exist and rules that contradict each other.
    """
    parsed, errors = parse_rules(rules)
    now = now or timezone.now()
    for rule in parsed:
        try:
            rule.field.compile(rule.op, rule.value, now)
        except ValueError as error:
            errors.append(_named(rule.index, rule.field, error))
    errors += _unknown_ids(parsed)
    errors += _contradictions(parsed)
    if errors:
        raise SegmentRuleError(sorted(errors, key=lambda e: -1 if e[0] is None else e[0]))
    return [{"field": r.field.name, "op": r.op, "value": r.value} for r in parsed]


def members_matching(rules: Any, *, now: dt.datetime | None = None) -> QuerySet[Member]:
    """Active members the rules select (frozen members are never targeted); raises SegmentRuleError."""
    q, post = compile_rules(rules, now=now)
    queryset = Member.objects.filter(q, status=Member.Status.ACTIVE)
    for rule_field, value in post:
        queryset = rule_field.post(queryset, value)
    return queryset
