"""Segment rules: a list of conditions over members, all of which must hold, compiled to one query.

A rule is ``{"field": <name>, "op": <op>, "value": <value>}``. Each field is registered here with
the operators it accepts, how its value is checked and how it becomes a ``Q`` on ``Member``; the
back office's rule builder, the live count, campaigns and automations all go through
``members_matching`` so that a segment means the same everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member


class SegmentRuleError(ValueError):
    """Rules that cannot be compiled; ``errors`` holds one message per bad rule (index, message)."""

    def __init__(self, errors: list[tuple[int | None, str]]):
        self.errors = errors
        super().__init__("; ".join(str(message) for _, message in errors))


@dataclass(frozen=True)
class RuleField:
    name: str
    label: Any
    kind: str  # "choice" | "range" | "number" | "date_range" | "month" | "tags" | "top"
    compile: Callable[[str, Any, dt.datetime], Q]
    ops: tuple[str, ...]
    choices: Callable[[], list[tuple[Any, Any]]] | None = None
    unit: Any = ""
    # Fields that cannot be expressed as a filter on one member (top N) are applied afterwards.
    post: Callable[[QuerySet, Any], QuerySet] | None = None
    help_text: Any = ""
    extra: dict = field(default_factory=dict)


FIELDS: dict[str, RuleField] = {}


def register_field(rule_field: RuleField) -> None:
    """Other apps add fields (analytics: RFM segment, churn risk); the last registration wins."""
    FIELDS[rule_field.name] = rule_field


# --- value checks --------------------------------------------------------------------------------


def _number(value: Any, *, label: str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(_("%(label)s must be a number.") % {"label": label})
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(_("%(label)s must be a number.") % {"label": label}) from None
    if not number.is_finite():
        raise ValueError(_("%(label)s must be a number.") % {"label": label})
    return number


def range_bounds(value: Any) -> tuple[Decimal | None, Decimal | None]:
    """``{"min": a, "max": b}`` with either bound optional; min must not exceed max."""
    if not isinstance(value, dict) or not ({"min", "max"} & set(value)):
        raise ValueError(_("Give a lowest value, a highest value or both."))
    low = value.get("min")
    high = value.get("max")
    low = None if low in (None, "") else _number(low, label=_("The lowest value"))
    high = None if high in (None, "") else _number(high, label=_("The highest value"))
    if low is None and high is None:
        raise ValueError(_("Give a lowest value, a highest value or both."))
    if (low is not None and low < 0) or (high is not None and high < 0):
        raise ValueError(_("Values cannot be negative."))
    if low is not None and high is not None and low > high:
        raise ValueError(_("The lowest value is above the highest; no member could match."))
    return low, high


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ValueError(_("Choose at least one."))
    try:
        return sorted({int(v) for v in value if not isinstance(v, bool)})
    except (TypeError, ValueError):
        raise ValueError(_("Unknown choice.")) from None


def _range_q(lookup: str, value: Any) -> Q:
    low, high = range_bounds(value)
    q = Q()
    if low is not None:
        q &= Q(**{f"{lookup}__gte": low})
    if high is not None:
        q &= Q(**{f"{lookup}__lte": high})
    return q


# --- the fields ----------------------------------------------------------------------------------


def _tier_q(op: str, value: Any, now: dt.datetime) -> Q:
    return Q(stats__tier_id__in=_ids(value))


def _home_store_q(op: str, value: Any, now: dt.datetime) -> Q:
    return Q(home_store_id__in=_ids(value))


def _tags_q(op: str, value: Any, now: dt.datetime) -> Q:
    ids = _ids(value)
    # A subquery, not a join: a member with two of the tags must still be one row.
    from members.models import Tag

    tagged = Tag.members.through.objects.filter(tag_id__in=ids).values("member_id")
    return ~Q(pk__in=tagged) if op == "none" else Q(pk__in=tagged)


def _days_since_purchase_q(op: str, value: Any, now: dt.datetime) -> Q:
    low, high = range_bounds(value)
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


def _birthday_month_q(op: str, value: Any, now: dt.datetime) -> Q:
    months = _ids(value)
    if any(m < 1 or m > 12 for m in months):
        raise ValueError(_("A month is a number from 1 to 12."))
    return Q(birthday__month__in=months)


def _date(value: Any, *, label: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(_("%(label)s is not a date (YYYY-MM-DD).") % {"label": label}) from None


def _registered_q(op: str, value: Any, now: dt.datetime) -> Q:
    if not isinstance(value, dict):
        raise ValueError(_("Give a first day, a last day or both."))
    start = _date(value.get("from"), label=_("The first day"))
    end = _date(value.get("to"), label=_("The last day"))
    if start is None and end is None:
        raise ValueError(_("Give a first day, a last day or both."))
    if start and end and start > end:
        raise ValueError(_("The first day is after the last day; no member could match."))
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
    # Ties broken by the older member so that the same N are chosen every time.
    top = queryset.order_by("-points_account__available", "pk").values("pk")[:n]
    return Member.objects.filter(pk__in=top)


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
    return [(m, str(m)) for m in range(1, 13)]


for _field in (
    RuleField("tier", _("Tier"), "choice", _tier_q, ("in",), choices=_tier_choices),
    RuleField("home_store", _("Home store"), "choice", _home_store_q, ("in",), choices=_store_choices),
    RuleField("tags", _("Tags"), "tags", _tags_q, ("any", "none"), choices=_tag_choices),
    RuleField(
        "days_since_purchase",
        _("Days since last purchase"),
        "range",
        _days_since_purchase_q,
        ("between",),
        unit=_("days"),
        help_text=_("Members who never bought are not included."),
    ),
    RuleField("spend", _("Total spend"), "range", _spend_q, ("between",), unit="¥"),
    RuleField("visits", _("Purchases"), "range", _visits_q, ("between",)),
    RuleField("points", _("Points balance"), "range", _points_q, ("between",), unit=_("points")),
    RuleField("birthday_month", _("Birthday month"), "month", _birthday_month_q, ("in",), choices=_month_choices),
    RuleField("registered", _("Registration date"), "date_range", _registered_q, ("between",)),
    RuleField(
        "top_points",
        _("Top N by points"),
        "top",
        _top_q,
        ("top",),
        post=_top_post,
        help_text=_("The N members with the most points among those the other rules match."),
    ),
):
    register_field(_field)


# --- compiling -----------------------------------------------------------------------------------


def _parse(rules: Any) -> list[tuple[int, RuleField, str, Any]]:
    if not isinstance(rules, list):
        raise SegmentRuleError([(None, _("Rules must be a list."))])
    parsed, errors = [], []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            errors.append((index, _("A rule needs a field, an operator and a value.")))
            continue
        rule_field = FIELDS.get(rule.get("field"))
        if rule_field is None:
            errors.append((index, _("Unknown field “%(field)s”.") % {"field": rule.get("field")}))
            continue
        op = rule.get("op") or rule_field.ops[0]
        if op not in rule_field.ops:
            errors.append((index, _("“%(op)s” does not apply to %(field)s.") % {"op": op, "field": rule_field.label}))
            continue
        parsed.append((index, rule_field, op, rule.get("value")))
    if errors:
        raise SegmentRuleError(errors)
    return parsed


def compile_rules(rules: Any, *, now: dt.datetime | None = None) -> tuple[Q, list[tuple[RuleField, Any]]]:
    """The filter of the rules and the post-steps (top N) to apply after it; raises SegmentRuleError."""
    now = now or timezone.now()
    q, post, errors = Q(), [], []
    seen: dict[str, int] = {}
    for index, rule_field, op, value in _parse(rules):
        if rule_field.post is not None and rule_field.name in seen:
            errors.append((index, _("%(field)s can be used once.") % {"field": rule_field.label}))
            continue
        seen[rule_field.name] = index
        try:
            q &= rule_field.compile(op, value, now)
        except ValueError as error:
            errors.append((index, str(error)))
            continue
        if rule_field.post is not None:
            post.append((rule_field, value))
    if errors:
        raise SegmentRuleError(errors)
    return q, post


def validate_rules(rules: Any) -> None:
    compile_rules(rules)


def members_matching(rules: Any, *, now: dt.datetime | None = None) -> QuerySet[Member]:
    """Active members the rules select (frozen members are never targeted); raises SegmentRuleError."""
    q, post = compile_rules(rules, now=now)
    queryset = Member.objects.filter(q, status=Member.Status.ACTIVE)
    for rule_field, value in post:
        queryset = rule_field.post(queryset, value)
    return queryset


def member_ids_matching(rules: Any, *, now: dt.datetime | None = None) -> Iterable[int]:
    return members_matching(rules, now=now).values_list("pk", flat=True).order_by("pk").iterator(chunk_size=10_000)
