"""The variables a message template may use, what each means, and how each is computed.

A variable belongs to a *group* whose loader computes the values of all its variables for a batch of
members at once, in a constant number of queries, so queueing a campaign to 100,000 members costs a
few queries per batch whatever the template uses; only the groups a template uses are loaded.

The caller's `context` carries what is not the member's own: the coupon just issued (`coupon`, or for
a bulk queue `coupon_issue_key`, the issue key under which each member got theirs), the number of days
"points expiring" looks ahead (`expiring_within_days`, 30 by default). A context key named like a
variable gives that variable one value for every member ({"coupon_name": "满200减50"}).

Values are text: newlines become spaces (an email subject is a header) and each is cut to the
variable's `max_length`, which is also what the template's length check assumes. Other apps add
variables with `register_message_variables` from their AppConfig.ready() (analytics may: it sits above
campaigns).
"""

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Min, Q, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from members.models import Member


@dataclass(frozen=True, slots=True)
class MemberRow:
    """What the outbox reads of a member, without another query: a bulk queue reads these as plain rows
    (building 100,000 Member objects would cost more than the rest of the queue)."""

    pk: int
    code: str
    name: str
    phone: str
    email: str
    marketing_consent: bool
    home_store_name: str

    @classmethod
    def of(cls, member: "Member | MemberRow") -> "MemberRow":
        if isinstance(member, MemberRow):
            return member
        store = member.home_store if member.home_store_id else None
        return cls(
            pk=member.pk,
            code=member.code,
            name=member.name,
            phone=member.phone,
            email=member.email,
            marketing_consent=member.marketing_consent,
            home_store_name=store.name if store else "",
        )


# The columns a MemberRow is read from, in its fields' order.
MEMBER_ROW_COLUMNS = ("pk", "code", "name", "phone", "email", "marketing_consent", "home_store__name")

# load(members, context) → {member.pk: {variable: value or None}}; None means "no value for this member"
# (e.g. a coupon variable without a coupon), which the queue refuses for that member.
Loader = Callable[[Sequence[MemberRow], Mapping[str, Any]], dict[int, dict[str, Any]]]

DEFAULT_EXPIRING_WITHIN_DAYS = 30


def ids_in(ids: Sequence[int]):
    """The value of an `__in` filter over a batch of ids: on PostgreSQL one array parameter (unnest), which
    costs a fraction of what thousands of separate parameters cost to send and to plan; elsewhere the list."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (list(ids),))
    return list(ids)


@dataclass(frozen=True)
class MessageVariable:
    name: str
    group: str
    description: str | Promise
    example: str
    max_length: int


@dataclass(frozen=True)
class _Group:
    key: str
    load: Loader


_groups: dict[str, _Group] = {}
_variables: dict[str, MessageVariable] = {}


def register_message_variables(group: str, load: Loader, variables: Iterable[MessageVariable]) -> None:
    """Add (or replace) a group of variables and its loader."""
    _groups[group] = _Group(group, load)
    for variable in variables:
        if variable.group != group:
            raise ValueError(f"{variable.name} belongs to group {variable.group}, not {group}")
        _variables[variable.name] = variable


def known_variables() -> list[MessageVariable]:
    return list(_variables.values())


def variable(name: str) -> MessageVariable | None:
    return _variables.get(name)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_value(value: Any, max_length: int) -> str:
    """A value as text fit for any channel: one line, at most max_length characters."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, datetime):
        text = timezone.localtime(value).date().isoformat()
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    if _CONTROL.search(text):
        # Newlines, tabs and other control characters become single spaces.
        text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text


def variable_values(
    members: Sequence["Member | MemberRow"], names: Iterable[str], context: Mapping[str, Any] | None = None
) -> dict[int, dict[str, str | None]]:
    """The values of `names` for each member: {member.pk: {name: text or None}}.

    Unknown names are the template's problem (message_template_validate refuses them); here they are
    skipped. A context key named like a variable wins over its loader.
    """
    context = context or {}
    members = [MemberRow.of(m) for m in members]
    wanted = [_variables[name] for name in dict.fromkeys(names) if name in _variables]
    ids = [m.pk for m in members]
    values: dict[int, dict[str, str | None]] = {pk: {} for pk in ids}
    groups = {v.group for v in wanted if v.name not in context}
    loaded: dict[str, dict[int, dict[str, Any]]] = {}
    for key in groups:
        loaded[key] = _groups[key].load(members, context) if members else {}
    for var in wanted:
        name, limit = var.name, var.max_length
        if name in context:
            raw = context[name]
            shared = None if raw is None else clean_value(raw, limit)
            for pk in ids:
                values[pk][name] = shared
            continue
        own = loaded[var.group]
        for pk in ids:
            raw = own.get(pk, {}).get(name)
            values[pk][name] = None if raw is None else clean_value(raw, limit)
    return values


def example_values(names: Iterable[str] = ()) -> dict[str, str]:
    """What the template help and the preview show when there is no member or no coupon to hand."""
    chosen = [_variables[n] for n in names if n in _variables] if names else list(_variables.values())
    return {v.name: v.example for v in chosen}


# --- built-in variables --------------------------------------------------------------------------


def _load_member(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    return {
        m.pk: {
            "name": m.name,
            "member_code": m.code,
            "phone_last4": (m.phone or "")[-4:],  # an erased member has no phone
            "store": m.home_store_name or "",
        }
        for m in members
    }


def _load_points(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    from loyalty.models import PointsAccount, PointsLot

    ids = [m.pk for m in members]
    days = int(context.get("expiring_within_days") or DEFAULT_EXPIRING_WITHIN_DAYS)
    now = timezone.now()
    available = dict(PointsAccount.objects.filter(pk__in=ids_in(ids)).values_list("pk", "available"))
    expiring = {
        row["member_id"]: row
        for row in PointsLot.objects.filter(
            member_id__in=ids_in(ids), remaining__gt=0, expires_at__gt=now, expires_at__lte=now + timedelta(days=days)
        )
        .values("member_id")
        .annotate(points=Sum("remaining"), first=Min("expires_at"))
        .order_by()
    }
    values = {}
    for member_id in ids:
        soon = expiring.get(member_id, {})
        first = soon.get("first")
        values[member_id] = {
            "points": available.get(member_id, 0),
            "points_expiring": soon.get("points") or 0,
            # Lots expire at the local midnight that ends their last day: that day is the one to name.
            "expiring_on": timezone.localtime(first - timedelta(microseconds=1)).date() if first else "",
        }
    return values


def _load_tier(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    from loyalty.models import MemberStats, Tier

    ids = [m.pk for m in members]
    names = dict(MemberStats.objects.filter(pk__in=ids_in(ids), tier__isnull=False).values_list("pk", "tier__name"))
    # A member who has not bought yet is in the entry tier already (as the member summary says).
    entry = Tier.objects.filter(threshold=0).order_by("rank").values_list("name", flat=True).first() or ""
    return {member_id: {"tier": names.get(member_id, entry)} for member_id in ids}


def _load_stored_value(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    from loyalty.models import Wallet

    ids = [m.pk for m in members]
    wallets = {w["pk"]: w for w in Wallet.objects.filter(pk__in=ids_in(ids)).values("pk", "principal", "bonus")}
    zero = Decimal("0.00")
    return {
        member_id: {
            "stored_value": (wallets[member_id]["principal"] + wallets[member_id]["bonus"])
            if member_id in wallets
            else zero
        }
        for member_id in ids
    }


def _coupon_values(coupon) -> dict[str, Any]:
    return {
        "coupon_name": coupon.template.name,
        "coupon_code": coupon.code,
        # Coupons end at a local midnight: the last day they can be used is the day before it.
        "coupon_valid_until": timezone.localtime(coupon.valid_until - timedelta(microseconds=1)).date(),
    }


def _load_coupon(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    from campaigns.models import Coupon

    ids = [m.pk for m in members]
    coupon = context.get("coupon")
    if coupon is not None:
        return {member_id: _coupon_values(coupon) for member_id in ids if coupon.member_id == member_id}
    by_member = context.get("coupons")
    if by_member is not None:
        return {member_id: _coupon_values(by_member[member_id]) for member_id in ids if member_id in by_member}
    issue_key = context.get("coupon_issue_key")
    if issue_key:
        coupons = Coupon.objects.filter(Q(member_id__in=ids_in(ids)) & Q(issue_key=issue_key))
        coupons = coupons.select_related("template")
        return {c.member_id: _coupon_values(c) for c in coupons}
    return {}


register_message_variables(
    "member",
    _load_member,
    [
        MessageVariable("name", "member", _("The member's name."), "王芳", 50),
        MessageVariable("member_code", "member", _("The member code (10 digits)."), "9000000017", 16),
        MessageVariable("phone_last4", "member", _("The last four digits of the member's phone."), "5678", 4),
        MessageVariable("store", "member", _("The member's home store (cut at 30 characters)."), "上海徐汇店", 30),
    ],
)
register_message_variables(
    "points",
    _load_points,
    [
        MessageVariable("points", "points", _("Points available now."), "1280", 10),
        MessageVariable(
            "points_expiring",
            "points",
            _("Points that expire within 30 days (or the days the automation gives)."),
            "300",
            10,
        ),
        MessageVariable(
            "expiring_on",
            "points",
            _("The last day of the first of those points (YYYY-MM-DD), empty if none expire."),
            "2026-03-31",
            10,
        ),
    ],
)
register_message_variables(
    "tier",
    _load_tier,
    [MessageVariable("tier", "tier", _("The member's tier."), "金卡", 32)],
)
register_message_variables(
    "stored_value",
    _load_stored_value,
    [MessageVariable("stored_value", "stored_value", _("Stored value, principal and bonus (¥)."), "550.00", 12)],
)
register_message_variables(
    "coupon",
    _load_coupon,
    [
        MessageVariable("coupon_name", "coupon", _("The coupon just issued: its name."), "满200减50", 64),
        MessageVariable(
            "coupon_code", "coupon", _("The coupon just issued: the code shown at the till."), "C8K2M4Q7", 20
        ),
        MessageVariable(
            "coupon_valid_until",
            "coupon",
            _("The coupon just issued: the last day it can be used (YYYY-MM-DD)."),
            "2026-03-31",
            10,
        ),
    ],
)


def _load_service_visit(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    # From the context only: the appointment being reminded of, or the service due again.
    appointment = context.get("appointment")
    if appointment is not None:
        values = {
            "service_name": appointment.service.name,
            "appointment_time": timezone.localtime(appointment.starts_at).strftime("%Y-%m-%d %H:%M"),
            "appointment_store": appointment.store.name,
        }
        return {m.pk: values for m in members if m.pk == appointment.member_id}
    service = context.get("service")
    if service is not None:
        return {m.pk: {"service_name": service.name} for m in members}
    return {}


register_message_variables(
    "service_visit",
    _load_service_visit,
    [
        MessageVariable("service_name", "service_visit", _("The service booked or due again (reminders)."), "洗护", 64),
        MessageVariable(
            "appointment_time",
            "service_visit",
            _("The appointment's start, China time (YYYY-MM-DD HH:MM)."),
            "2026-03-31 10:00",
            16,
        ),
        MessageVariable("appointment_store", "service_visit", _("The appointment's store."), "上海徐汇店", 64),
    ],
)
