"""Campaigns: create, schedule, launch, cancel and finish them.

A launch draws the segment once into CampaignMember (the snapshot the effect is measured on), splits it
into a target and a holdout group by a hash of (campaign, member), so that drawing again gives the same
split, and acts for the target group only: a coupon each (set-based bulk issue), a points boost for the
campaign's window, a message; the points award follows in batches through the ledger.

With a coupon, the segment's members who cannot use it (not of its tiers: campaigns.eligibility, the rule
checkout applies) are left out before the draw, unless the marketer chose to issue it to everyone anyway
(Campaign.coupon_to_everyone, audited): eligibility first, then the holdout group, so that the effect is
measured among members the coupon could work on, and a member who could never use it is neither sent it
nor counted as "held out" against those who got it. Left out, they get none of the campaign's actions: its
message announces a coupon they do not have.

Launching twice, or on two workers at once, has one effect: the campaign row is locked and its status
moved scheduled → running by a conditional UPDATE whose row count is checked, inside the transaction
that writes the snapshot and the actions, so a second run waits and then finds nothing to do, and a
crashed run leaves nothing behind. Points are awarded after that transaction, one batch of members per
transaction (holding hundreds of thousands of points-account locks for a whole launch would stall the
tills); each award has the ledger key campaign:<id>:member:<id>, and the beat task finishes the awards
of a run that died between batches.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import CharField, Count, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.eligibility import members_who_can_use
from campaigns.holdout import held_out
from campaigns.models import Campaign, CampaignMember, Coupon, CouponTemplate, MessageTemplate, PointsBoost, Segment
from campaigns.segments import SegmentRuleError, members_matching
from campaigns.selectors.coupons import CouponAudience, coupon_audience
from campaigns.services.coupons import coupons_issue_bulk
from campaigns.services.messaging import messages_queue_bulk
from config.errors import field_error as _error
from loyalty.models import LoyaltySettings, PointsEntry
from loyalty.services import points as ledger
from loyalty.services.locks import lock_points_account
from members.models import Member
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

logger = logging.getLogger(__name__)

HOLDOUT_MAX = Decimal("50")
SNAPSHOT_BATCH = 5_000
POINTS_BATCH = 500
# Campaigns whose multiplier windows must not overlap: those that will or do give boosts.
LIVE_STATUSES = (Campaign.Status.SCHEDULED, Campaign.Status.RUNNING)
EDITABLE_STATUSES = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED)


def in_holdout(campaign_id: int, member_id: int, holdout_percent: Decimal) -> bool:
    return held_out("campaign", campaign_id, member_id, holdout_percent)


def points_key(campaign_id: int, member_id: int) -> str:
    return f"campaign:{campaign_id}:member:{member_id}"


def coupon_issue_key(campaign: Campaign) -> str:
    return f"campaign:{campaign.pk}"


# --- validation ----------------------------------------------------------------------------------


@dataclass
class CampaignFields:
    name: str
    segment: Segment | None
    starts_at: datetime | None
    ends_at: datetime | None
    holdout_percent: Decimal
    coupon_template: CouponTemplate | None = None
    points: int = 0
    multiplier: Decimal = Decimal("1.00")
    message_template: MessageTemplate | None = None
    coupon_to_everyone: bool = False

    def has_action(self) -> bool:
        return bool(
            self.coupon_template is not None
            or self.points
            or (self.multiplier is not None and self.multiplier > 1)
            or self.message_template is not None
        )


def overlapping_multipliers(
    *,
    starts_at: datetime,
    ends_at: datetime,
    exclude: Campaign | None = None,
    segment: Segment | None = None,
):
    """Scheduled or running campaigns with a points multiplier whose window overlaps [starts_at, ends_at),
    of `segment` only when given."""
    queryset = Campaign.objects.filter(
        status__in=LIVE_STATUSES, multiplier__gt=1, starts_at__lt=ends_at, ends_at__gt=starts_at
    ).select_related("segment")
    if segment is not None:
        queryset = queryset.filter(segment=segment)
    if exclude is not None and exclude.pk is not None:
        queryset = queryset.exclude(pk=exclude.pk)
    return queryset.order_by("starts_at", "pk")


def campaign_validate(fields: CampaignFields, *, campaign: Campaign | None = None) -> None:
    """Every check a campaign's fields must pass, with one message per field; writes nothing."""
    errors: dict[str, list[ValidationError]] = {}

    def add(field_name: str, message: str, code: str) -> None:
        errors.setdefault(field_name, []).append(ValidationError(message, code=code))

    if not (fields.name or "").strip():
        add("name", _("Give the campaign a name."), "name_required")
    if fields.segment is None:
        add("segment", _("Choose the segment the campaign targets."), "segment_required")
    if fields.starts_at is None:
        add("starts_at", _("Give the campaign's start."), "starts_at_required")
    if fields.ends_at is None:
        add("ends_at", _("Give the campaign's end."), "ends_at_required")
    if fields.starts_at and fields.ends_at and fields.starts_at >= fields.ends_at:
        add("ends_at", _("The campaign must end after it starts."), "dates_unordered")
    holdout = fields.holdout_percent
    if holdout is None or not (Decimal("0") <= holdout <= HOLDOUT_MAX):
        add(
            "holdout_percent",
            _("The holdout group is between 0 and 50 percent of the segment."),
            "holdout_out_of_range",
        )
    if fields.points is None or fields.points < 0:
        add("points", _("Points to award cannot be negative."), "points_negative")
    if fields.multiplier is None or fields.multiplier < 1:
        add("multiplier", _("The points multiplier is at least 1 (1 means no multiplier)."), "multiplier_below_one")
    if not fields.has_action():
        add(
            "coupon_template",
            _("Choose at least one action: a coupon, points, a points multiplier or a message."),
            "no_action",
        )
    if fields.coupon_template is not None and not fields.coupon_template.is_active:
        add(
            "coupon_template",
            _("The coupon “%(name)s” is not active: activate it first.") % {"name": fields.coupon_template.name},
            "coupon_template_inactive",
        )
    if (
        not errors
        and fields.multiplier > 1
        and (
            clash := overlapping_multipliers(
                starts_at=fields.starts_at, ends_at=fields.ends_at, exclude=campaign, segment=fields.segment
            ).first()
        )
    ):
        add(
            "multiplier",
            _(
                "The campaign “%(other)s” already gives this segment a points multiplier from %(start)s to %(end)s: "
                "the windows overlap. Change the dates or drop the multiplier."
            )
            % {
                "other": clash.name,
                "start": timezone.localtime(clash.starts_at).strftime("%Y-%m-%d %H:%M"),
                "end": timezone.localtime(clash.ends_at).strftime("%Y-%m-%d %H:%M"),
            },
            "multiplier_overlap",
        )
    if errors:
        raise ValidationError(errors)


def _require(actor) -> None:
    if actor is not None:
        require_staff_can(actor, Action.MANAGE_CAMPAIGNS)


def _locked(campaign: Campaign) -> Campaign:
    """The one lock of a campaign's row, held to the end of the transaction."""
    return Campaign.objects.select_for_update().select_related("segment").get(pk=campaign.pk)


def _audit_fields(fields: CampaignFields) -> dict:
    return {
        "name": fields.name,
        "segment": fields.segment.pk if fields.segment else None,
        "starts_at": fields.starts_at.isoformat() if fields.starts_at else None,
        "ends_at": fields.ends_at.isoformat() if fields.ends_at else None,
        "holdout_percent": str(fields.holdout_percent),
        "coupon_template": fields.coupon_template.pk if fields.coupon_template else None,
        "points": fields.points,
        "multiplier": str(fields.multiplier),
        "message_template": fields.message_template.pk if fields.message_template else None,
        "coupon_to_everyone": fields.coupon_to_everyone,
    }


# --- create, update, schedule, cancel ------------------------------------------------------------


@transaction.atomic
def campaign_create(*, actor, fields: CampaignFields) -> Campaign:
    """A new draft campaign, audited."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    fields.name = (fields.name or "").strip()
    campaign_validate(fields)
    campaign = Campaign.objects.create(
        name=fields.name,
        segment=fields.segment,
        starts_at=fields.starts_at,
        ends_at=fields.ends_at,
        holdout_percent=fields.holdout_percent,
        coupon_template=fields.coupon_template,
        points=fields.points,
        multiplier=fields.multiplier,
        message_template=fields.message_template,
        coupon_to_everyone=fields.coupon_to_everyone,
        created_by=actor,
    )
    audit_record(actor=actor, action="campaign.created", target=campaign, data=_audit_fields(fields))
    return campaign


@transaction.atomic
def campaign_update(*, actor, campaign: Campaign, fields: CampaignFields) -> Campaign:
    """Change a draft or scheduled campaign; a launched one is what its members got and stays."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    campaign = _locked(campaign)
    if campaign.status not in EDITABLE_STATUSES:
        raise _error(
            None,
            _("The campaign is %(status)s: only draft and scheduled campaigns can be changed.")
            % {"status": campaign.get_status_display()},
            "campaign_not_editable",
        )
    fields.name = (fields.name or "").strip()
    campaign_validate(fields, campaign=campaign)
    for name in (
        "name",
        "segment",
        "starts_at",
        "ends_at",
        "holdout_percent",
        "coupon_template",
        "points",
        "multiplier",
        "message_template",
        "coupon_to_everyone",
    ):
        setattr(campaign, name, getattr(fields, name))
    campaign.save(
        update_fields=[
            "name",
            "segment",
            "starts_at",
            "ends_at",
            "holdout_percent",
            "coupon_template",
            "points",
            "multiplier",
            "message_template",
            "coupon_to_everyone",
        ]
    )
    audit_record(actor=actor, action="campaign.updated", target=campaign, data=_audit_fields(fields))
    return campaign


def fields_of(campaign: Campaign) -> CampaignFields:
    return CampaignFields(
        name=campaign.name,
        segment=campaign.segment,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        holdout_percent=campaign.holdout_percent,
        coupon_template=campaign.coupon_template,
        points=campaign.points,
        multiplier=campaign.multiplier,
        message_template=campaign.message_template,
        coupon_to_everyone=campaign.coupon_to_everyone,
    )


def _segment_members(campaign: Campaign, *, now: datetime):
    try:
        return members_matching(campaign.segment.rules, now=now)
    except SegmentRuleError as error:
        raise _error(
            "segment",
            _("The segment “%(segment)s” has rules that no longer hold: %(errors)s")
            % {"segment": campaign.segment.name, "errors": error},
            "segment_invalid",
        ) from None


def campaign_audience(campaign: Campaign, *, now: datetime | None = None):
    """The members a launch draws now: the segment's, less those who cannot use the campaign's coupon
    unless it goes to everyone anyway. The filter is campaigns.eligibility's, the one the page counts with."""
    members = _segment_members(campaign, now=now or timezone.now())
    if campaign.coupon_template_id is not None and not campaign.coupon_to_everyone:
        members = members_who_can_use(campaign.coupon_template, members)
    return members


def campaign_coupon_audience(campaign: Campaign, *, now: datetime | None = None) -> CouponAudience | None:
    """Of the segment now, how many can use the campaign's coupon and who cannot (None: no coupon). What the
    campaign's page shows before launch, and what the launch records."""
    if campaign.coupon_template_id is None:
        return None
    return coupon_audience(campaign.coupon_template, _segment_members(campaign, now=now or timezone.now()))


def _no_target_error(campaign: Campaign, *, now: datetime) -> ValidationError:
    if campaign.coupon_template_id is not None and not campaign.coupon_to_everyone:
        audience = campaign_coupon_audience(campaign, now=now)
        if audience.total:
            return _error(
                "coupon_template",
                _(
                    "Nobody in the segment “%(segment)s” can use the coupon “%(coupon)s” (%(reasons)s): choose "
                    "another coupon or segment, or issue it to everyone anyway."
                )
                % {
                    "segment": campaign.segment.name,
                    "coupon": campaign.coupon_template.name,
                    "reasons": audience.reasons(),
                },
                "campaign_coupon_unusable",
            )
    return _error(
        "segment",
        _("The segment “%(segment)s” has no members now: the campaign would reach no one.")
        % {"segment": campaign.segment.name},
        "campaign_no_target",
    )


def _refuse_no_target(campaign: Campaign, *, now: datetime) -> None:
    if not campaign_audience(campaign, now=now).exists():
        raise _no_target_error(campaign, now=now)


@transaction.atomic
def campaign_schedule(*, actor, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Draft → scheduled: the beat task launches it when it starts."""
    _require(actor)
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status == Campaign.Status.SCHEDULED:
        return campaign
    if campaign.status != Campaign.Status.DRAFT:
        raise _error(
            None,
            _("The campaign is %(status)s: only a draft can be scheduled.") % {"status": campaign.get_status_display()},
            "campaign_not_draft",
        )
    if campaign.ends_at <= now:
        raise _error("ends_at", _("The campaign's end has passed: move it later first."), "campaign_ended")
    campaign_validate(fields_of(campaign), campaign=campaign)
    _refuse_no_target(campaign, now=now)
    moved = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DRAFT).update(
        status=Campaign.Status.SCHEDULED
    )
    if moved != 1:  # the row is locked: only a bug gets here
        raise RuntimeError(f"campaign {campaign.pk} changed under its lock")
    campaign.status = Campaign.Status.SCHEDULED
    audit_record(
        actor=actor, action="campaign.scheduled", target=campaign, data={"starts_at": campaign.starts_at.isoformat()}
    )
    return campaign


@transaction.atomic
def campaign_cancel(*, actor, campaign: Campaign, reason: str = "", now: datetime | None = None) -> Campaign:
    """Stop a campaign that has not finished. A running one's points boosts end now; coupons issued and
    points awarded stay the members'."""
    _require(actor)
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status == Campaign.Status.CANCELLED:
        return campaign
    if campaign.status == Campaign.Status.FINISHED:
        raise _error(None, _("The campaign has finished and cannot be cancelled."), "campaign_finished")
    was = campaign.status
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.CANCELLED)
    campaign.status = Campaign.Status.CANCELLED
    ended = 0
    if was == Campaign.Status.RUNNING:
        PointsBoost.objects.filter(campaign=campaign, starts_at__gte=now).delete()
        ended = PointsBoost.objects.filter(campaign=campaign, ends_at__gt=now).update(ends_at=now)
    audit_record(
        actor=actor,
        action="campaign.cancelled",
        target=campaign,
        reason=(reason or "").strip(),
        data={"was": was, "boosts_ended": ended},
    )
    return campaign


# --- launch --------------------------------------------------------------------------------------


@dataclass
class LaunchResult:
    campaign: Campaign
    launched: bool  # False: it was launched before (or is being launched by another run)
    target: int = 0
    holdout: int = 0
    excluded: int = 0  # left out: they could not use the coupon
    coupons: int = 0
    boosts: int = 0
    messages: dict[str, int] = field(default_factory=dict)
    points_awarded: int = 0
    overlapping: list[str] = field(default_factory=list)


def _snapshot(campaign: Campaign, *, now: datetime) -> None:
    """The segment's members now (those who can use the coupon: campaign_audience), written once per member
    with their group (resumable: a member already drawn keeps the row it has)."""
    members = campaign_audience(campaign, now=now)
    # A "top N" segment is sliced, and a sliced query cannot be reordered.
    ids = (members if members.query.is_sliced else members.order_by("pk")).values_list("pk", flat=True)
    batch: list[CampaignMember] = []
    for member_id in ids.iterator(chunk_size=SNAPSHOT_BATCH):
        group = (
            CampaignMember.Group.HOLDOUT
            if in_holdout(campaign.pk, member_id, campaign.holdout_percent)
            else CampaignMember.Group.TARGET
        )
        batch.append(CampaignMember(campaign_id=campaign.pk, member_id=member_id, group=group))
        if len(batch) >= SNAPSHOT_BATCH:
            CampaignMember.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    if batch:
        CampaignMember.objects.bulk_create(batch, ignore_conflicts=True)


def target_members(campaign: Campaign):
    return Member.objects.filter(
        pk__in=CampaignMember.objects.filter(campaign_id=campaign.pk, group=CampaignMember.Group.TARGET).values(
            "member_id"
        )
    )


def _boosts(campaign: Campaign) -> int:
    """One points boost per target member over the campaign's window, in one INSERT … SELECT."""
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_pointsboost (member_id, multiplier, starts_at, ends_at, campaign_id, automation_id) "
            "SELECT cm.member_id, %s, %s, %s, %s, NULL FROM campaigns_campaignmember cm "
            "WHERE cm.campaign_id = %s AND cm.\"group\" = 'target' ON CONFLICT DO NOTHING",
            [
                ops.adapt_decimalfield_value(campaign.multiplier, 4, 2),
                ops.adapt_datetimefield_value(campaign.starts_at),
                ops.adapt_datetimefield_value(campaign.ends_at),
                campaign.pk,
                campaign.pk,
            ],
        )
        return cursor.rowcount


def _coupon_audit(campaign: Campaign, audience: CouponAudience | None) -> dict:
    if audience is None:
        return {}
    return {
        "coupon_to_everyone": campaign.coupon_to_everyone,
        "segment_members": audience.total,
        "cannot_use_coupon": audience.excluded,
        "cannot_use_by_tier": {name or "-": n for name, n in audience.excluded_by_tier},
        "nobody_reason": audience.nobody_reason,
    }


@transaction.atomic
def _launch_in_one_transaction(*, actor, campaign: Campaign, now: datetime) -> LaunchResult:
    campaign = _locked(campaign)
    if campaign.status not in EDITABLE_STATUSES:
        return LaunchResult(campaign=campaign, launched=False)
    if campaign.ends_at <= now:
        raise _error("ends_at", _("The campaign's end has passed: it can no longer be launched."), "campaign_ended")
    campaign_validate(fields_of(campaign), campaign=campaign)
    # Launched before its start ("launch now"): its window, and its effect, start now.
    starts_at = min(campaign.starts_at, now)
    moved = Campaign.objects.filter(pk=campaign.pk, status__in=EDITABLE_STATUSES).update(
        status=Campaign.Status.RUNNING, launched_at=now, starts_at=starts_at
    )
    if moved != 1:
        return LaunchResult(campaign=campaign, launched=False)
    campaign.status, campaign.launched_at, campaign.starts_at = Campaign.Status.RUNNING, now, starts_at
    coupon_audience_now = campaign_coupon_audience(campaign, now=now)
    _snapshot(campaign, now=now)
    counts = dict(
        CampaignMember.objects.filter(campaign_id=campaign.pk)
        .values_list("group")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("group", "n")
    )
    target, holdout = counts.get(CampaignMember.Group.TARGET, 0), counts.get(CampaignMember.Group.HOLDOUT, 0)
    if not target + holdout:
        raise _no_target_error(campaign, now=now)
    excluded = 0 if coupon_audience_now is None or campaign.coupon_to_everyone else coupon_audience_now.excluded
    Campaign.objects.filter(pk=campaign.pk).update(target_count=target, holdout_count=holdout, excluded_count=excluded)
    campaign.target_count, campaign.holdout_count, campaign.excluded_count = target, holdout, excluded
    result = LaunchResult(campaign=campaign, launched=True, target=target, holdout=holdout, excluded=excluded)
    if campaign.coupon_template_id is not None:
        issued = coupons_issue_bulk(
            template=campaign.coupon_template,
            members=target_members(campaign),
            source=Coupon.Source.CAMPAIGN,
            issue_key=coupon_issue_key(campaign),
            campaign=campaign,
            now=now,
        )
        result.coupons = issued.issued
    if campaign.multiplier > 1:
        result.overlapping = [
            c.name
            for c in overlapping_multipliers(starts_at=campaign.starts_at, ends_at=campaign.ends_at, exclude=campaign)
        ]
        result.boosts = _boosts(campaign)
    if campaign.message_template_id is not None:
        queued = messages_queue_bulk(
            members=target_members(campaign),
            template=campaign.message_template,
            key_prefix=f"campaign:{campaign.pk}:member",
            context={"coupon_issue_key": coupon_issue_key(campaign)} if campaign.coupon_template_id else {},
            campaign=campaign,
        )
        result.messages = queued.as_dict()
    audit_record(
        actor=actor,
        action="campaign.launched",
        target=campaign,
        data={
            "target": target,
            "holdout": holdout,
            "coupons": result.coupons,
            "boosts": result.boosts,
            "messages": result.messages,
            "points_each": campaign.points,
            "overlapping_multipliers": result.overlapping,
            **_coupon_audit(campaign, coupon_audience_now),
        },
    )
    return result


def campaign_launch(*, actor=None, campaign: Campaign, now: datetime | None = None) -> LaunchResult:
    """Launch a draft or scheduled campaign now (the beat task, or "Launch now" in the back office).

    Idempotent: a launched campaign is left as it is (launched=False), except that points not yet
    awarded to its target group are awarded.
    """
    _require(actor)
    now = now or timezone.now()
    result = _launch_in_one_transaction(actor=actor, campaign=campaign, now=now)
    if result.campaign.points and result.campaign.status == Campaign.Status.RUNNING:
        result.points_awarded = campaign_points_award(campaign=result.campaign, now=now)
    return result


def _members_without_points(campaign: Campaign):
    """Target members (not frozen) without the campaign's ledger entry, by the (member, key) index."""
    key = Concat(Value(f"campaign:{campaign.pk}:member:"), Cast(OuterRef("member_id"), CharField()))
    return (
        CampaignMember.objects.filter(campaign_id=campaign.pk, group=CampaignMember.Group.TARGET)
        .filter(member__status=Member.Status.ACTIVE)
        .exclude(Exists(PointsEntry.objects.filter(member_id=OuterRef("member_id"), idempotency_key=key)))
        .order_by("member_id")
        .values_list("member_id", flat=True)
    )


def campaign_points_award(*, campaign: Campaign, now: datetime | None = None, batch_size: int = POINTS_BATCH) -> int:
    """Award the campaign's points to each target member who has not had them, through the ledger, one
    batch of members per transaction. Returns the number of members awarded now."""
    if not campaign.points:
        return 0
    now = now or timezone.now()
    policy = LoyaltySettings.current()
    awarded = 0
    while batch := list(_members_without_points(campaign)[:batch_size]):
        with transaction.atomic():
            for member_id in batch:
                account = lock_points_account(member_id)
                key = points_key(campaign.pk, member_id)
                if ledger.existing_entry(member_id, key) is not None:
                    continue  # another run gave them meanwhile
                ledger.credit(
                    account,
                    points=campaign.points,
                    kind=PointsEntry.Kind.BEHAVIOUR,
                    key=key,
                    ctx=ledger.EntryContext(reason=f"campaign {campaign.name}"[:255]),
                    now=now,
                    policy=policy,
                    pending=False,
                    counts_as_earned=False,
                )
                awarded += 1
    return awarded


# --- the beat ------------------------------------------------------------------------------------


def campaigns_run_due(*, now: datetime | None = None) -> dict[str, int]:
    """Launch scheduled campaigns that have started, finish running ones that have ended, and award
    points a crashed launch left unawarded. Safe to run twice or on two workers at once."""
    now = now or timezone.now()
    summary = {"launched": 0, "failed": 0, "finished": 0, "points_awarded": 0}
    due = Campaign.objects.filter(status=Campaign.Status.SCHEDULED, starts_at__lte=now).order_by("starts_at", "pk")
    for campaign in due:
        try:
            result = campaign_launch(campaign=campaign, now=now)
        except ValidationError as error:
            summary["failed"] += 1
            logger.warning("campaign %s could not be launched: %s", campaign.pk, "; ".join(error.messages))
            continue
        summary["launched"] += int(result.launched)
        summary["points_awarded"] += result.points_awarded
    running = Campaign.objects.filter(status=Campaign.Status.RUNNING, points__gt=0, ends_at__gt=now)
    for campaign in running.order_by("pk"):
        summary["points_awarded"] += campaign_points_award(campaign=campaign, now=now)
    with transaction.atomic():
        ended = list(
            Campaign.objects.filter(status=Campaign.Status.RUNNING, ends_at__lte=now).values_list("pk", flat=True)
        )
        if ended:
            summary["finished"] = Campaign.objects.filter(
                pk__in=ended, status=Campaign.Status.RUNNING, ends_at__lte=now
            ).update(status=Campaign.Status.FINISHED)
            for pk in ended:
                audit_record(actor=None, action="campaign.finished", target=Campaign(pk=pk), data={})
    return summary


__all__ = [
    "CampaignFields",
    "LaunchResult",
    "campaign_audience",
    "campaign_cancel",
    "campaign_coupon_audience",
    "campaign_create",
    "campaign_launch",
    "campaign_points_award",
    "campaign_schedule",
    "campaign_update",
    "campaign_validate",
    "campaigns_run_due",
    "in_holdout",
    "overlapping_multipliers",
]
