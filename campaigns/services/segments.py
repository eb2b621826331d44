"""Segments: saved rules over members (campaigns.segments compiles them), created, changed, counted,
deleted and exported by HQ (Action.MANAGE_CAMPAIGNS; exports also need EXPORT_DATA).

A segment is saved only with rules that validate_rules accepts (every bad rule reported at once,
nothing written), in the form clean_rules gives them, with its member count as of the save; every
change is audited in its own transaction. The count is members_matching(segment.rules).count(): the
same function campaigns and automations target with, so the count and the targeting agree.
"""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Automation, Campaign, Segment
from campaigns.segments import SegmentRuleError, members_matching, validate_rules
from members.models import ExportJob, Member
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action
from stores.services import audit_record

NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length
DESCRIPTION_MAX_LENGTH = 2000

SEGMENT_CREATED = "campaigns.segment_created"
SEGMENT_CHANGED = "campaigns.segment_changed"
SEGMENT_DELETED = "campaigns.segment_deleted"
# The source of a segment export's members selection (members.export_jobs).
SEGMENT_SELECTION = "segment"


class SegmentInvalid(ValidationError):
    """A ValidationError whose `rule_errors` are the rules' own (index, message), for the builder to
    show each next to its rule; the messages are also under "rules" for any other caller."""

    def __init__(self, errors: dict, rule_errors: list[tuple[int | None, str]]):
        super().__init__(errors)
        self.rule_errors = rule_errors


def segment_validate(
    *, name: str, description: str = "", rules, segment: Segment | None = None, now: datetime | None = None
) -> list[dict]:
    """The rules as they will be stored, or SegmentInvalid with every problem of the name and rules."""
    errors: dict[str, list[ValidationError]] = {}
    rule_errors: list[tuple[int | None, str]] = []
    name = (name or "").strip()
    if not name:
        errors["name"] = [ValidationError(_("Give the segment a name."), code="required")]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [
            ValidationError(
                _("A name has at most %(max)d characters."), code="max_length", params={"max": NAME_MAX_LENGTH}
            )
        ]
    else:
        same = Segment.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
        if segment is not None and segment.pk is not None:
            same = same.exclude(pk=segment.pk)
        if same.exists():
            errors["name"] = [
                ValidationError(
                    _("A segment named “%(name)s” exists already."), code="duplicate_name", params={"name": name}
                )
            ]
    if len(description or "") > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [
            ValidationError(
                _("A description has at most %(max)d characters."),
                code="max_length",
                params={"max": DESCRIPTION_MAX_LENGTH},
            )
        ]
    cleaned: list[dict] = []
    try:
        cleaned = validate_rules(rules, now=now)
    except SegmentRuleError as error:
        rule_errors = error.errors
        errors["rules"] = [ValidationError(message, code="invalid_rule") for _index, message in error.errors]
    if errors:
        raise SegmentInvalid(errors, rule_errors)
    return cleaned


def _count(rules, now: datetime) -> int:
    return members_matching(rules, now=now).order_by().count()


@transaction.atomic
def segment_create(*, actor, name: str, rules, description: str = "", now: datetime | None = None) -> Segment:
    """A new segment with its count; SegmentInvalid (nothing written) for a bad name or bad rules."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    now = now or timezone.now()
    cleaned = segment_validate(name=name, description=description, rules=rules, now=now)
    segment = Segment.objects.create(
        name=name.strip(),
        description=(description or "").strip(),
        rules=cleaned,
        member_count=_count(cleaned, now),
        counted_at=now,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=SEGMENT_CREATED,
        target=segment,
        data={"name": segment.name, "rules": cleaned, "members": segment.member_count},
    )
    return segment


@transaction.atomic
def segment_update(
    *, actor, segment: Segment, name: str, rules, description: str = "", now: datetime | None = None
) -> Segment:
    """Change a segment's name, description and rules, and count it again; audited with before and after.

    Campaigns already launched keep the members they drew (CampaignMember); those not launched yet and
    automations use the new rules from now on.
    """
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    now = now or timezone.now()
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    cleaned = segment_validate(name=name, description=description, rules=rules, segment=segment, now=now)
    values = {"name": name.strip(), "description": (description or "").strip(), "rules": cleaned}
    before = {f: getattr(segment, f) for f in values}
    changed = [f for f in values if before[f] != values[f]]
    for f in changed:
        setattr(segment, f, values[f])
    segment.member_count = _count(cleaned, now)
    segment.counted_at = now
    segment.save(update_fields=[*changed, "member_count", "counted_at", "updated_at"])
    if changed:
        audit_record(
            actor=actor,
            action=SEGMENT_CHANGED,
            target=segment,
            data={
                "changed": changed,
                "before": {f: before[f] for f in changed},
                "after": {f: values[f] for f in changed},
                "members": segment.member_count,
            },
        )
    return segment


def segment_count(*, segment: Segment, now: datetime | None = None) -> int:
    """Count the segment's members now and keep the figure on the segment (with when it was counted).

    The count runs outside a transaction (at a million members it takes a while and must hold no
    lock). The UPDATE that stores it is conditional: only if the segment was not changed since it was
    read (a change counts itself) and no newer count was stored meanwhile.
    """
    now = now or timezone.now()
    count = _count(segment.rules, now)
    Segment.objects.filter(pk=segment.pk, updated_at=segment.updated_at).exclude(counted_at__gt=now).update(
        member_count=count, counted_at=now
    )
    segment.member_count, segment.counted_at = count, now
    return count


def segment_in_use(segment: Segment) -> list[str]:
    """What targets the segment: "Campaign “春季焕新”", …, at most a few."""
    used = [
        _("campaign “%(name)s”") % {"name": name}
        for name in Campaign.objects.filter(segment=segment).values_list("name", flat=True)[:5]
    ]
    used += [
        _("automation “%(name)s”") % {"name": name}
        for name in Automation.objects.filter(segment=segment).values_list("name", flat=True)[:5]
    ]
    return used


@transaction.atomic
def segment_delete(*, actor, segment: Segment) -> None:
    """Delete a segment no campaign or automation uses; ValidationError naming the users otherwise."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    used = segment_in_use(segment)
    if used:
        raise ValidationError(
            _("“%(name)s” cannot be deleted: %(users)s use it. Change them to another segment first."),
            code="segment_in_use",
            params={"name": segment.name, "users": "、".join(used)},
        )
    audit_record(
        actor=actor,
        action=SEGMENT_DELETED,
        target=segment,
        data={"name": segment.name, "rules": segment.rules, "members": segment.member_count},
    )
    segment.delete()


def segment_export_start(
    *, actor, segment: Segment, fmt: str = "csv", headers: str = "zh", columns=None, language: str = "zh-hans"
) -> ExportJob:
    """A members export of the segment's members as a background job (members.export_jobs), audited
    like every members export (who, the segment, the row count, the columns) with the job's page to
    follow it.

    Not one transaction: the count of the export (members_export_prepare) must not run inside the
    job's write transaction (see export_job_create).
    """
    from members.export_jobs import export_job_create
    from members.exports import member_export_prepare

    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    queryset = members_matching(segment.rules)
    export = member_export_prepare(
        actor=actor,
        queryset=queryset,
        columns=columns,
        fmt=fmt,
        language=headers,
        filters=f"segment={segment.pk}",
        source="segment",
    )
    return export_job_create(
        actor=actor,
        kind=ExportJob.Kind.MEMBERS,
        export=export,
        selection={"source": SEGMENT_SELECTION, "rules": segment.rules},
        filters=[(_("Segment"), segment.name)],
        language=language,
    )


def segment_selection(selection: dict, *, actor) -> QuerySet[Member]:
    """The members of a segment export's job (members.export_jobs): the rules kept with the job, matched
    when the worker writes the file, for staff who may still work with segments."""
    from members.export_jobs import ExportJobRefused

    if not staff_can(actor, Action.MANAGE_CAMPAIGNS):
        raise ExportJobRefused(_("Your role no longer allows exports."))
    try:
        return members_matching(selection.get("rules"))
    except SegmentRuleError as error:
        raise ExportJobRefused("; ".join(str(message) for _index, message in error.errors)) from None
