"""Writes of automations (journeys): saving and switching them on and off (audited), and running them.

A run finds the members its trigger finds (campaigns.selectors.automations, in chunks of ~2,000 member
ids), keeps those who meet the conditions (the segment), drops occurrences already recorded, records the
members whose coupon they could not use (campaigns.eligibility), those over the frequency cap and the
held-out members as skipped effects, and acts for the others:
a coupon (coupon_issue / coupons_issue_bulk), points (the ledger, keyed automation:<id>:<member>:<occurrence>),
a double-points window (PointsBoost) and a message (messages_queue_bulk, which handles consent, opt-out
and the automation's quiet hours). Win-back automations pick the actions by the member's churn reason.

Once only: each chunk first INSERTs its effects with ON CONFLICT DO NOTHING … RETURNING and acts only
for the rows it inserted, in the same transaction. Two runs at once (two beat workers, a beat run and a
"Run now") meet on the UNIQUE (automation, member, occurrence) index: the second waits for the first's
commit and then inserts nothing, so it does nothing. Every action is idempotent by its own key as well.

Lock order: points accounts (in member id order) before the coupon template's row, the order of
coupon_issue, so a run and a till's single issue never wait on each other in a cycle.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.churn import ChurnReason, has_churn_source
from campaigns.eligibility import members_who_can_use
from campaigns.holdout import held_out
from campaigns.messaging.render import TemplateRenderer
from campaigns.messaging.variables import ids_in
from campaigns.models import Automation, AutomationEffect, Coupon, CouponTemplate, Message, MessageTemplate, PointsBoost
from campaigns.segments import SegmentRuleError, validate_rules
from campaigns.selectors.automations import (
    BIRTHDAY_MAX_DAYS,
    EVENT_TRIGGERS,
    SCHEDULED_TRIGGERS,
    Found,
    effects_recorded,
    members_at_cap,
    members_meeting_conditions,
    reasons_for,
    trigger_found,
)
from campaigns.services.coupons import coupon_issue, coupons_issue_bulk
from campaigns.services.messaging import messages_queue_bulk
from config.errors import field_error as _error
from loyalty.models import PointsEntry
from loyalty.services import points as ledger
from loyalty.services.locks import lock_points_account
from members.models import Member
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

logger = logging.getLogger(__name__)

Trigger = Automation.Trigger

# N (days) of each trigger that has one: (lowest, highest).
DAYS_RANGE = {
    Trigger.BIRTHDAY: (0, BIRTHDAY_MAX_DAYS),
    Trigger.DORMANT: (1, 3650),
    Trigger.POINTS_EXPIRING: (1, 365),
    Trigger.DOWNGRADE_RISK: (1, 365),
    Trigger.CARD_EXPIRING: (1, 365),
}
MAX_POINTS = 1_000_000
MAX_MULTIPLIER = Decimal("10")
MAX_BOOST_DAYS = 365
COUPON_VARIABLES = {"coupon_name", "coupon_code", "coupon_valid_until"}
ACTION_KEYS = ("coupon_template", "points", "message_template", "multiplier", "multiplier_days")

HOLDOUT = "holdout"
FREQUENCY_CAP = "frequency_cap"
COUPON_UNUSABLE = "coupon_unusable"


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actions:
    """What an automation does for one member: its default actions or those of a churn reason."""

    coupon_template_id: int | None = None
    points: int = 0
    message_template_id: int | None = None
    multiplier: Decimal = Decimal("1.00")
    multiplier_days: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.coupon_template_id or self.points or self.message_template_id or self.boosts)

    @property
    def boosts(self) -> bool:
        return self.multiplier > 1 and self.multiplier_days > 0

    @classmethod
    def default_of(cls, automation: Automation) -> Actions:
        return cls(
            coupon_template_id=automation.coupon_template_id,
            points=automation.points,
            message_template_id=automation.message_template_id,
            multiplier=Decimal(automation.multiplier),
            multiplier_days=automation.multiplier_days,
        )

    @classmethod
    def of_json(cls, data: dict) -> Actions:
        return cls(
            coupon_template_id=data.get("coupon_template") or None,
            points=int(data.get("points") or 0),
            message_template_id=data.get("message_template") or None,
            multiplier=Decimal(str(data.get("multiplier") or "1")),
            multiplier_days=int(data.get("multiplier_days") or 0),
        )

    def as_json(self) -> dict:
        data: dict[str, Any] = {}
        if self.coupon_template_id:
            data["coupon_template"] = self.coupon_template_id
        if self.points:
            data["points"] = self.points
        if self.message_template_id:
            data["message_template"] = self.message_template_id
        if self.multiplier > 1:
            data["multiplier"] = str(self.multiplier)
            data["multiplier_days"] = self.multiplier_days
        return data


def actions_for(automation: Automation, reason: str) -> Actions:
    """The actions of the member's churn reason where the automation names some, else its default ones."""
    by_reason = automation.actions_by_reason or {}
    if reason and by_reason.get(reason):
        return Actions.of_json(by_reason[reason])
    return Actions.default_of(automation)


# --- validation ----------------------------------------------------------------------------------


def _whole(value: Any, *, field_name: str, low: int, high: int, message: str) -> int:
    if isinstance(value, bool):
        raise _error(field_name, message, "invalid")
    try:
        number = Decimal(str(value).strip() or "0")
    except (InvalidOperation, ValueError):
        raise _error(field_name, message, "invalid") from None
    if not number.is_finite() or number != int(number) or not low <= number <= high:
        raise _error(field_name, message, "invalid")
    return int(number)


def _multiplier(value: Any, *, field_name: str) -> Decimal:
    message = _("The multiplier is a number from 1 to 10, e.g. 2 for double points.")
    try:
        number = Decimal(str(value if value not in (None, "") else "1").strip())
    except (InvalidOperation, ValueError):
        raise _error(field_name, message, "invalid_multiplier") from None
    if not number.is_finite() or not Decimal(1) <= number <= MAX_MULTIPLIER or number != round(number, 2):
        raise _error(field_name, message, "invalid_multiplier")
    return number


def _check_message(template: MessageTemplate | None, *, coupon: bool, field_name: str) -> None:
    if template is None:
        return
    renderer = TemplateRenderer(template, marketing=True)
    if renderer.problems:
        raise _error(
            field_name,
            _("The message “%(name)s” cannot be sent as it is; correct the template first.") % {"name": template.name},
            "template_invalid",
        )
    if not coupon and COUPON_VARIABLES & set(renderer.names):
        raise _error(
            field_name,
            _("The message “%(name)s” shows a coupon, but no coupon is issued with it: choose a coupon too.")
            % {"name": template.name},
            "message_needs_coupon",
        )


def _check_actions(
    *, coupon_template, points, message_template, multiplier, multiplier_days, prefix: str = ""
) -> Actions:
    """One set of actions (the default or a reason's); errors on fields named `prefix` + field."""
    points = _whole(
        points,
        field_name=prefix + "points",
        low=0,
        high=MAX_POINTS,
        message=_("Points are a whole number from 0 to 1,000,000."),
    )
    multiplier = _multiplier(multiplier, field_name=prefix + "multiplier")
    multiplier_days = _whole(
        multiplier_days,
        field_name=prefix + "multiplier_days",
        low=0,
        high=MAX_BOOST_DAYS,
        message=_("The multiplier lasts a whole number of days, at most 365."),
    )
    if multiplier > 1 and not multiplier_days:
        raise _error(
            prefix + "multiplier_days",
            _("Say for how many days the points multiplier applies."),
            "multiplier_days_required",
        )
    _check_message(message_template, coupon=coupon_template is not None, field_name=prefix + "message_template")
    return Actions(
        coupon_template_id=coupon_template.pk if coupon_template is not None else None,
        points=points,
        message_template_id=message_template.pk if message_template is not None else None,
        multiplier=multiplier,
        multiplier_days=multiplier_days if multiplier > 1 else 0,
    )


def _by_reason(value: Any) -> dict[str, dict]:
    """The win-back JSON checked and normalised: known reasons, existing templates, sensible numbers."""
    if value in (None, "", {}):
        return {}
    if not isinstance(value, dict):
        raise _error("actions_by_reason", _("Actions by churn reason must be an object."), "invalid")
    cleaned: dict[str, dict] = {}
    labels = dict(ChurnReason.choices)
    for reason, data in value.items():
        if reason not in labels:
            raise _error(
                "actions_by_reason",
                _("Unknown churn reason “%(reason)s”.") % {"reason": str(reason)[:40]},
                "unknown_reason",
            )
        field_prefix = f"actions_by_reason.{reason}."
        if not isinstance(data, dict) or set(data) - set(ACTION_KEYS):
            raise _error(field_prefix + "coupon_template", _("Unknown action."), "invalid")
        coupon = _template(CouponTemplate, data.get("coupon_template"), field_name=field_prefix + "coupon_template")
        message = _template(MessageTemplate, data.get("message_template"), field_name=field_prefix + "message_template")
        actions = _check_actions(
            coupon_template=coupon,
            points=data.get("points") or 0,
            message_template=message,
            multiplier=data.get("multiplier") or 1,
            multiplier_days=data.get("multiplier_days") or 0,
            prefix=field_prefix,
        )
        if actions.is_empty:
            continue
        cleaned[reason] = actions.as_json()
    return cleaned


def _template(model, value, *, field_name: str):
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    try:
        return model.objects.get(pk=int(value))
    except (model.DoesNotExist, TypeError, ValueError):
        raise _error(field_name, _("This template does not exist (any more)."), "unknown_template") from None


def automation_validate(
    *,
    name: str,
    trigger: str,
    days: Any = 0,
    segment=None,
    coupon_template: CouponTemplate | None = None,
    points: Any = 0,
    message_template: MessageTemplate | None = None,
    multiplier: Any = 1,
    multiplier_days: Any = 0,
    actions_by_reason: Any = None,
    max_per_member: Any = 1,
    cap_days: Any = 30,
    quiet_start: time | None = None,
    quiet_end: time | None = None,
    holdout_percent: Any = 0,
) -> dict[str, Any]:
    """The fields checked and normalised, or a ValidationError naming each field (what the form shows)."""
    name = (name or "").strip()
    if not name:
        raise _error("name", _("Give the automation a name."), "required")
    if len(name) > 64:
        raise _error("name", _("A name has at most 64 characters."), "max_length")
    if trigger not in Trigger.values:
        raise _error("trigger", _("Choose a trigger."), "invalid_trigger")
    if trigger in DAYS_RANGE:
        low, high = DAYS_RANGE[trigger]
        days = _whole(
            days,
            field_name="days",
            low=low,
            high=high,
            message=_("This trigger needs N: a whole number of days from %(low)d to %(high)d.")
            % {"low": low, "high": high},
        )
    else:
        days = 0
    if segment is not None:
        try:
            validate_rules(segment.rules)
        except SegmentRuleError:
            raise _error(
                "segment",
                _("The segment “%(name)s” has rules that cannot be used; correct it first.") % {"name": segment.name},
                "segment_invalid",
            ) from None
    actions = _check_actions(
        coupon_template=coupon_template,
        points=points,
        message_template=message_template,
        multiplier=multiplier,
        multiplier_days=multiplier_days,
    )
    by_reason = _by_reason(actions_by_reason)
    if actions.is_empty and not by_reason:
        raise _error(
            "coupon_template",
            _("Choose at least one action: a coupon, points, a points multiplier or a message."),
            "no_action",
        )
    if actions.is_empty and trigger != Trigger.CHURN_RISK and len(by_reason) < len(ChurnReason.values):
        # Members of other triggers may have no churn reason: they get the default actions, so some are needed.
        raise _error(
            "coupon_template",
            _("Members without one of the churn reasons get the actions above: choose at least one."),
            "no_default_action",
        )
    max_per_member = _whole(
        max_per_member,
        field_name="max_per_member",
        low=1,
        high=1000,
        message=_("At most per member is a whole number of 1 or more."),
    )
    cap_days = _whole(
        cap_days,
        field_name="cap_days",
        low=1,
        high=3650,
        message=_("The frequency cap counts over a whole number of days, from 1 to 3,650."),
    )
    if (quiet_start is None) != (quiet_end is None):
        raise _error(
            "quiet_end" if quiet_end is None else "quiet_start",
            _("Give both ends of the quiet hours, or neither."),
            "quiet_hours_incomplete",
        )
    if quiet_start is not None and quiet_start == quiet_end:
        raise _error("quiet_end", _("Quiet hours must end at another time than they start."), "quiet_hours_empty")
    try:
        holdout = Decimal(str(holdout_percent if holdout_percent not in (None, "") else "0"))
    except (InvalidOperation, ValueError):
        holdout = Decimal(-1)
    if not holdout.is_finite() or not 0 <= holdout <= 50 or holdout != round(holdout, 1):
        raise _error("holdout_percent", _("The holdout group is from 0 to 50 %."), "invalid_holdout")
    return {
        "name": name,
        "trigger": trigger,
        "days": days,
        "segment": segment,
        "coupon_template_id": actions.coupon_template_id,
        "points": actions.points,
        "message_template_id": actions.message_template_id,
        "multiplier": actions.multiplier,
        "multiplier_days": actions.multiplier_days,
        "actions_by_reason": by_reason,
        "max_per_member": max_per_member,
        "cap_days": cap_days,
        "quiet_start": quiet_start,
        "quiet_end": quiet_end,
        "holdout_percent": holdout,
    }


def _audit_value(value):
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, (Decimal, time)):
        return str(value)
    return value


@transaction.atomic
def automation_save(*, actor, automation: Automation | None = None, **fields) -> Automation:
    """Create (inactive) or change an automation; checked by automation_validate, audited with what changed.
    Nothing is written when a field is refused."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    cleaned = automation_validate(**fields)
    creating = automation is None
    if creating:
        automation = Automation(created_by=actor)
        before = {}
    else:
        automation = Automation.objects.select_for_update().get(pk=automation.pk)
        before = {name: _audit_value(getattr(automation, name)) for name in cleaned}
    for name, value in cleaned.items():
        setattr(automation, name, value)
    if creating:
        automation.save()
    else:
        automation.save(update_fields=list(cleaned))
    after = {name: _audit_value(getattr(automation, name)) for name in cleaned}
    changed = sorted(name for name in cleaned if creating or before.get(name) != after[name])
    audit_record(
        actor=actor,
        action="automation.created" if creating else "automation.changed",
        target=automation,
        data={
            "changed": changed,
            "before": {n: before.get(n) for n in changed},
            "after": {n: after[n] for n in changed},
        },
    )
    return automation


def _switch(*, automation: Automation, actor, active: bool) -> bool:
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    switched = Automation.objects.filter(pk=automation.pk, is_active=not active).update(is_active=active)
    automation.is_active = active
    if switched:
        audit_record(
            actor=actor,
            action="automation.activated" if active else "automation.deactivated",
            target=automation,
            data={"name": automation.name, "trigger": automation.trigger},
        )
    return bool(switched)


@transaction.atomic
def automation_activate(*, automation: Automation, actor) -> bool:
    """Switch it on (checked again: a template or segment may have changed since it was saved); False if it
    already was. Audited."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    automation_validate(**_fields_of(automation))
    return _switch(automation=automation, actor=actor, active=True)


@transaction.atomic
def automation_deactivate(*, automation: Automation, actor) -> bool:
    """Switch it off; False if it already was. Audited."""
    return _switch(automation=automation, actor=actor, active=False)


def _fields_of(automation: Automation) -> dict[str, Any]:
    return {
        "name": automation.name,
        "trigger": automation.trigger,
        "days": automation.days,
        "segment": automation.segment,
        "coupon_template": automation.coupon_template,
        "points": automation.points,
        "message_template": automation.message_template,
        "multiplier": automation.multiplier,
        "multiplier_days": automation.multiplier_days,
        "actions_by_reason": automation.actions_by_reason,
        "max_per_member": automation.max_per_member,
        "cap_days": automation.cap_days,
        "quiet_start": automation.quiet_start,
        "quiet_end": automation.quiet_end,
        "holdout_percent": automation.holdout_percent,
    }


# --- running -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one run of one automation found and did (a dry run only counts)."""

    automation_id: int
    name: str = ""
    dry_run: bool = False
    found: int = 0
    not_in_segment: int = 0
    already_reached: int = 0
    capped: int = 0
    coupon_unusable: int = 0
    held_out: int = 0
    reached: int = 0
    skipped: Counter = field(default_factory=Counter)
    coupons: int = 0
    points: int = 0
    messages: int = 0
    boosts: int = 0
    notice: str = ""

    def add(self, other: RunResult) -> None:
        for name in (
            "found",
            "not_in_segment",
            "already_reached",
            "capped",
            "coupon_unusable",
            "held_out",
            "reached",
            "coupons",
            "points",
            "messages",
            "boosts",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped.update(other.skipped)


def is_held_out(automation: Automation, member_id: int) -> bool:
    return held_out("automation", automation.pk, member_id, automation.holdout_percent)


def _insert_effects(automation: Automation, rows: list[tuple[int, str, str, str, int]], *, now: datetime):
    """INSERT (member, occurrence, reason, skipped, points) rows ON CONFLICT DO NOTHING; the (effect id,
    member id) of the rows this call wrote, which are the only ones it may act for."""
    inserted: list[tuple[int, int]] = []
    created_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(batch))
            params: list[Any] = []
            for member_id, occurrence, reason, skipped, points in batch:
                params += [automation.pk, member_id, occurrence, reason, skipped, points, created_at]
            cursor.execute(
                "INSERT INTO campaigns_automationeffect "
                "(automation_id, member_id, occurrence, reason, skipped, points, created_at) "
                f"VALUES {values} ON CONFLICT (automation_id, member_id, occurrence) DO NOTHING "
                "RETURNING id, member_id",
                params,
            )
            inserted += [(int(effect_id), int(member_id)) for effect_id, member_id in cursor.fetchall()]
    return inserted


class _Skip(Exception):
    def __init__(self, code: str):
        self.code = code


def _award_points(automation: Automation, member_ids: list[int], *, points: int, occurrence: str, now) -> int:
    given = 0
    ctx = ledger.EntryContext(reason=f"automation {automation.pk}: {automation.name}"[:255])
    for member_id in sorted(member_ids):
        account = lock_points_account(member_id)
        key = f"automation:{automation.pk}:{member_id}:{occurrence}"
        if ledger.existing_entry(member_id, key) is not None:
            continue
        ledger.credit(account, points=points, kind=PointsEntry.Kind.BEHAVIOUR, key=key, ctx=ctx, now=now, pending=False)
        given += 1
    return given


def _issue_coupons(automation: Automation, effects: list[tuple[int, int]], *, template_id: int, issue_key: str, now):
    template = CouponTemplate.objects.get(pk=template_id)
    member_ids = [member_id for _effect, member_id in effects]
    try:
        if len(member_ids) == 1:
            try:
                coupon_issue(
                    template=template,
                    member=Member.objects.get(pk=member_ids[0]),
                    source=Coupon.Source.AUTOMATION,
                    issue_key=issue_key,
                    automation=automation,
                    now=now,
                )
            except ValidationError as error:
                # As in a bulk issue, a member at the template's limit gets the other actions without it.
                if _code(error) != "coupon_limit_reached":
                    raise
        else:
            coupons_issue_bulk(
                template=template,
                members=Member.objects.filter(pk__in=ids_in(member_ids)),
                source=Coupon.Source.AUTOMATION,
                issue_key=issue_key,
                automation=automation,
                now=now,
            )
    except ValidationError as error:
        raise _Skip(_code(error)) from None
    coupon = Coupon.objects.filter(member_id=OuterRef("member_id"), issue_key=issue_key).values("pk")[:1]
    AutomationEffect.objects.filter(pk__in=[e for e, _m in effects]).update(coupon_id=Subquery(coupon))
    return Coupon.objects.filter(member_id__in=ids_in(member_ids), issue_key=issue_key).count()


def _queue_messages(
    automation: Automation, effects: list[tuple[int, int]], *, template_id: int, key_prefix: str, context, now
) -> int:
    template = MessageTemplate.objects.get(pk=template_id)
    quiet = (automation.quiet_start, automation.quiet_end) if automation.quiet_start is not None else None
    member_ids = [member_id for _effect, member_id in effects]
    try:
        result = messages_queue_bulk(
            members=Member.objects.filter(pk__in=ids_in(member_ids)),
            template=template,
            key_prefix=key_prefix,
            context=context,
            automation=automation,
            send_after=now,
            quiet_hours=quiet,
        )
    except ValidationError as error:
        raise _Skip(_code(error)) from None
    key = Concat(Value(key_prefix + ":"), Cast(OuterRef("member_id"), CharField()))
    message = Message.objects.filter(key=key).values("pk")[:1]
    AutomationEffect.objects.filter(pk__in=[e for e, _m in effects]).update(message_id=Subquery(message))
    return result.written.get(Message.Status.QUEUED, 0)


def _code(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        first = next(iter(error.error_dict.values()))[0]
        return first.code or "invalid"
    return error.error_list[0].code or "invalid"


def _act(automation: Automation, actions: Actions, occurrence: str, effects: list[tuple[int, int]], *, now, result):
    """Do `actions` for the members of `effects` (all of one occurrence); a refusal (the coupon's quantity
    is used up, a template became unusable) undoes the group's actions and records why on its effects."""
    member_ids = [member_id for _effect, member_id in effects]
    key = f"automation:{automation.pk}:{occurrence}"
    done = Counter()
    try:
        with transaction.atomic():
            if actions.points:
                done["points"] = _award_points(
                    automation, member_ids, points=actions.points, occurrence=occurrence, now=now
                )
            if actions.coupon_template_id:
                done["coupons"] = _issue_coupons(
                    automation, effects, template_id=actions.coupon_template_id, issue_key=key, now=now
                )
            if actions.boosts:
                PointsBoost.objects.bulk_create(
                    PointsBoost(
                        member_id=member_id,
                        multiplier=actions.multiplier,
                        starts_at=now,
                        ends_at=now + timedelta(days=actions.multiplier_days),
                        automation=automation,
                    )
                    for member_id in member_ids
                )
                done["boosts"] = len(member_ids)
            if actions.message_template_id:
                context: dict[str, Any] = {}
                if actions.coupon_template_id:
                    context["coupon_issue_key"] = key
                if automation.trigger == Trigger.POINTS_EXPIRING:
                    context["expiring_within_days"] = automation.days
                done["messages"] = _queue_messages(
                    automation,
                    effects,
                    template_id=actions.message_template_id,
                    key_prefix=key,
                    context=context,
                    now=now,
                )
    except _Skip as skip:
        AutomationEffect.objects.filter(pk__in=[e for e, _m in effects]).update(skipped=skip.code[:64], points=0)
        result.skipped[skip.code] += len(effects)
        return
    result.reached += len(effects)
    result.points += done["points"] * actions.points
    for name in ("coupons", "messages", "boosts"):
        setattr(result, name, getattr(result, name) + done[name])


def _cannot_use_their_coupon(automation: Automation, found: list[Found], reasons: dict[int, str]) -> set[int]:
    """Those of `found` whose actions would give them a coupon they cannot use (not of its tiers:
    campaigns.eligibility, the rule checkout applies). They are skipped before the holdout group is drawn,
    as a campaign's launch leaves them out: one query per coupon template of the chunk, not per member."""
    by_template: dict[int, list[int]] = defaultdict(list)
    for f in found:
        template_id = actions_for(automation, reasons.get(f.member_id, "")).coupon_template_id
        if template_id:
            by_template[template_id].append(f.member_id)
    unusable: set[int] = set()
    for template in CouponTemplate.objects.filter(pk__in=list(by_template)):
        ids = by_template[template.pk]
        usable = set(
            members_who_can_use(template, Member.objects.filter(pk__in=ids_in(ids))).values_list("pk", flat=True)
        )
        unusable.update(member_id for member_id in ids if member_id not in usable)
    return unusable


def _process(automation: Automation, found: list[Found], *, now: datetime, dry_run: bool, lock: bool = False):
    """One chunk, in one transaction: filter, record the effects, act for those this run recorded."""
    result = RunResult(automation_id=automation.pk, dry_run=dry_run)
    # One occurrence per member in a chunk (a trigger finds a member once per run).
    by_member = {f.member_id: f for f in found}
    found = list(by_member.values())
    result.found = len(found)
    if lock:
        # An event run for one member: hold their account while counting the cap, so two events at once
        # (two top-ups) count each other.
        for f in sorted(found, key=lambda f: f.member_id):
            lock_points_account(f.member_id)
    recorded = effects_recorded(automation, found)
    fresh = [f for f in found if (f.member_id, f.occurrence) not in recorded]
    result.already_reached = len(found) - len(fresh)
    if not fresh:
        return result
    meeting = members_meeting_conditions(automation, [f.member_id for f in fresh], now=now)
    eligible = [f for f in fresh if f.member_id in meeting]
    result.not_in_segment = len(fresh) - len(eligible)
    if not eligible:
        return result
    capped = members_at_cap(automation, [f.member_id for f in eligible], now=now)
    reasons = reasons_for(automation, eligible, now=now)
    unusable = _cannot_use_their_coupon(automation, eligible, reasons)
    rows, plans = [], {}
    for f in eligible:
        reason = reasons.get(f.member_id, "")
        if f.member_id in unusable:
            rows.append((f.member_id, f.occurrence, reason, COUPON_UNUSABLE, 0))
            result.coupon_unusable += 1
        elif f.member_id in capped:
            rows.append((f.member_id, f.occurrence, reason, FREQUENCY_CAP, 0))
            result.capped += 1
        elif is_held_out(automation, f.member_id):
            rows.append((f.member_id, f.occurrence, reason, HOLDOUT, 0))
            result.held_out += 1
        else:
            actions = actions_for(automation, reason)
            rows.append((f.member_id, f.occurrence, reason, "", actions.points))
            plans[f.member_id] = (f.occurrence, actions)
    if dry_run:
        result.reached = len(plans)
        return result
    # In member order: two runs at once wait on each other's rows in the same order, never in a cycle.
    rows.sort(key=lambda row: row[0])
    inserted = _insert_effects(automation, rows, now=now)
    # Rows another run wrote meanwhile are theirs: not counted here as capped or held out either.
    mine = {member_id for _effect, member_id in inserted}
    lost = [r for r in rows if r[0] not in mine]
    result.capped -= sum(1 for r in lost if r[3] == FREQUENCY_CAP)
    result.coupon_unusable -= sum(1 for r in lost if r[3] == COUPON_UNUSABLE)
    result.held_out -= sum(1 for r in lost if r[3] == HOLDOUT)
    result.already_reached += len(lost)
    groups: dict[tuple[str, Actions], list[tuple[int, int]]] = defaultdict(list)
    for effect_id, member_id in inserted:
        if member_id in plans:
            occurrence, actions = plans[member_id]
            groups[(occurrence, actions)].append((effect_id, member_id))
    for (occurrence, actions), effects in sorted(groups.items(), key=lambda item: item[0][0]):
        _act(automation, actions, occurrence, effects, now=now, result=result)
    return result


def _why_nobody(automation: Automation) -> str:
    if automation.trigger == Trigger.CHURN_RISK and not has_churn_source():
        return _("No churn scores yet: the analytics app has not registered a churn source, so nobody is at risk.")
    return ""


def automation_run(
    automation: Automation,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Run a scheduled trigger of one automation as of `now`: each chunk of ~2,000 members in its own
    transaction (a crash loses at most the chunk it was in, which the next run redoes). A dry run writes
    nothing and counts whom it would reach. Running it again reaches nobody twice."""
    now = now or timezone.now()
    total = RunResult(automation_id=automation.pk, name=automation.name, dry_run=dry_run)
    total.notice = _why_nobody(automation)
    for found in trigger_found(automation, now=now):
        with transaction.atomic():
            part = _process(automation, found, now=now, dry_run=dry_run)
        total.add(part)
        if progress is not None:
            progress(part)
    return total


def automations_run(
    *,
    now: datetime | None = None,
    automation_id: int | None = None,
    dry_run: bool = False,
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run every active automation with a scheduled trigger (or the one given, active or not when asked by
    id); what the hourly beat task and the run_automations command do. An automation whose segment has
    become unusable is reported and skipped, the others run."""
    now = now or timezone.now()
    automations = Automation.objects.select_related("segment").filter(trigger__in=SCHEDULED_TRIGGERS)
    if automation_id is not None:
        automations = automations.filter(pk=automation_id)
    else:
        automations = automations.filter(is_active=True)
    results = []
    for automation in automations.order_by("pk"):
        try:
            results.append(automation_run(automation, now=now, dry_run=dry_run, progress=progress))
        except SegmentRuleError:
            logger.warning("automation %s: its segment's rules cannot be compiled; not run", automation.pk)
            failed = RunResult(automation_id=automation.pk, name=automation.name, dry_run=dry_run)
            failed.notice = _("Its segment's rules cannot be used: correct the segment; it did not run.")
            results.append(failed)
    return results


def automations_run_event(
    *, trigger: str, member_id: int, occurrence: str, now: datetime | None = None
) -> list[RunResult]:
    """An event trigger (first purchase, referral success, top-up) for one member: every active automation
    of that trigger, each in its own transaction. The hooks call it through a task after their commit."""
    if trigger not in EVENT_TRIGGERS:
        raise ValueError(f"{trigger} is not an event trigger")
    now = now or timezone.now()
    results = []
    if not Member.objects.filter(pk=member_id, status=Member.Status.ACTIVE).exists():
        return results  # frozen since the event: automations never reach frozen members
    automations = Automation.objects.select_related("segment").filter(trigger=trigger, is_active=True)
    for automation in automations.order_by("pk"):
        with transaction.atomic():
            try:
                results.append(_process(automation, [Found(member_id, occurrence)], now=now, dry_run=False, lock=True))
            except SegmentRuleError:
                logger.warning("automation %s: its segment's rules cannot be compiled; not run", automation.pk)
    return results


def automation_run_request(*, automation: Automation, actor) -> None:
    """ "Run now" in the back office: audited, and run by a task after the commit (at once, in process, in
    the embedded mode without a broker)."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    if automation.trigger in EVENT_TRIGGERS:
        raise _error(
            "trigger",
            _("This automation runs when its event happens to a member; it cannot be run for everyone."),
            "event_trigger",
        )
    if not automation.is_active:
        raise _error("is_active", _("This automation is switched off: activate it first."), "automation_inactive")
    with transaction.atomic():
        audit_record(actor=actor, action="automation.run_requested", target=automation, data={"name": automation.name})
        from campaigns.tasks import run_automations

        transaction.on_commit(lambda: run_automations.delay(automation_id=automation.pk))


# --- event hooks (registered in campaigns.apps) ----------------------------------------------------


def _enqueue_event(trigger: str, member_id: int, occurrence: str) -> None:
    """After the event's commit: a task for the member if an active automation has this trigger. Never
    raises: a sale or a top-up never fails for an automation."""
    try:
        if not Automation.objects.filter(trigger=trigger, is_active=True).exists():
            return
        from campaigns.tasks import run_automation_event

        run_automation_event.delay(trigger=trigger, member_id=member_id, occurrence=occurrence)
    except Exception:
        logger.exception("automation event %s for member %s was not run", trigger, member_id)


def automations_after_sale(sale) -> None:
    """loyalty's after-sale hook, inside the sale's transaction: the member's first purchase."""
    if sale.member_id is None:
        return
    member_id, sale_id = sale.member_id, sale.pk

    def first_purchase() -> None:
        from loyalty.models import Sale

        try:
            if Sale.objects.filter(member_id=member_id, pk__lt=sale_id).exists():
                return
        except Exception:
            logger.exception("first purchase of member %s not checked", member_id)
            return
        _enqueue_event(Trigger.FIRST_PURCHASE, member_id, "first_purchase")

    transaction.on_commit(first_purchase)


def automations_after_referral(reward) -> None:
    """loyalty's referral hook, inside the sale's transaction: the referrer's referral succeeded."""
    referrer_id, referred_id = reward.referrer_id, reward.referred_id
    transaction.on_commit(lambda: _enqueue_event(Trigger.REFERRAL_SUCCESS, referrer_id, f"referral:{referred_id}"))


def automations_after_topup(topup) -> None:
    """loyalty's after-top-up hook, inside the top-up's transaction."""
    member_id, topup_id = topup.member_id, topup.pk
    transaction.on_commit(lambda: _enqueue_event(Trigger.AFTER_TOPUP, member_id, f"topup:{topup_id}"))
