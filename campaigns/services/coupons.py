"""Issuing and voiding coupons: one to a member, in bulk to a set of members, on registration.

Every coupon comes from an issue with a key (`issue_key`), unique per member: the same campaign,
birthday, mall order or staff request gives a member one coupon however often it runs, so callers
(the automations engine, a retried Celery task, a till resending) can simply call again.

The database keeps the counts right under concurrency:
  - a template's total quantity is claimed by a conditional UPDATE (issued_count < total_quantity)
    whose row count is checked, and its CHECK constraint backs it;
  - the per-member limit is counted while the member's points account row is locked
    (loyalty.services.locks), the lock every change to one member already queues on, so two issues to
    the same member cannot both see room for one more;
  - a bulk issue locks its template row for its transaction, and single issues of that template
    claim their unit (the same row) before counting, so they wait for the bulk and count what it wrote.
"""

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from campaigns.codes import new_coupon_code, new_coupon_codes
from campaigns.eligibility import CouponConditions, members_who_can_use, nobody_message
from campaigns.models import Automation, Campaign, Coupon, CouponTemplate
from config.errors import field_error as _error
from loyalty.models import MemberStats, Tier
from loyalty.services.idempotency import replay, validate_request_id
from loyalty.services.locks import lock_points_account
from loyalty.services.policy import as_replay
from members.models import Member
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

ISSUE_KEY_MAX_LENGTH = 80
_CODE_ATTEMPTS = 5
# A bulk issue that keeps colliding with existing codes (it never should: 60 random bits) gives up.
_BULK_CODE_ROUNDS = 5
_ANALYZE_AFTER = 10_000


def end_of_local_day(day) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def coupon_validity(template: CouponTemplate, *, now: datetime) -> tuple[datetime, datetime]:
    """From when until when a coupon of `template` issued at `now` can be used.

    Fixed dates: the template's (from now, if its start has passed). Days: until the end of the Nth
    local day after the day of issue (7 days issued on Monday: until Monday's midnight a week later).
    With both, whichever ends first.
    """
    start = template.valid_from if template.valid_from and template.valid_from > now else now
    ends = []
    if template.valid_days is not None:
        ends.append(end_of_local_day(timezone.localdate(now) + timedelta(days=template.valid_days)))
    if template.valid_until is not None:
        ends.append(template.valid_until)
    if not ends or min(ends) <= start:
        raise _error(
            "template",
            _("Coupons of “%(name)s” can no longer be used: its validity has ended."),
            "coupon_template_expired",
            name=template.name,
        )
    return start, min(ends)


def _validate_issue_key(issue_key: str) -> None:
    if not isinstance(issue_key, str) or not issue_key.strip() or len(issue_key) > ISSUE_KEY_MAX_LENGTH:
        raise ValueError(f"an issue key is 1–{ISSUE_KEY_MAX_LENGTH} characters, got {issue_key!r}")


def _refuse_inactive(template: CouponTemplate) -> None:
    if not template.is_active:
        raise _error(
            "template",
            _("The coupon “%(name)s” is not active: activate it before issuing."),
            "coupon_template_inactive",
            name=template.name,
        )


def _quantity_left(template: CouponTemplate) -> int | None:
    return None if template.total_quantity is None else template.total_quantity - template.issued_count


def _claim_one(template: CouponTemplate) -> CouponTemplate:
    """Count one more coupon of `template`, within its total quantity. The UPDATE also holds the
    template's row until commit, which is what makes single issues wait for a bulk issue."""
    claimed = (
        CouponTemplate.objects.filter(pk=template.pk, is_active=True)
        .filter(Q(total_quantity__isnull=True) | Q(issued_count__lt=F("total_quantity")))
        .update(issued_count=F("issued_count") + 1)
    )
    current = CouponTemplate.objects.get(pk=template.pk)
    if not claimed:
        _refuse_inactive(current)
        raise _error(
            "template",
            _("All %(total)d coupons of “%(name)s” have been issued."),
            "coupon_quantity_exhausted",
            total=current.total_quantity,
            name=current.name,
        )
    return current


def _existing(*, member: Member, issue_key: str, source: str) -> Coupon | None:
    if source == Coupon.Source.MANUAL:
        # Staff requests are unique across members (coupon_manual_request_once).
        return Coupon.objects.filter(source=Coupon.Source.MANUAL, issue_key=issue_key).first()
    return Coupon.objects.filter(member=member, issue_key=issue_key).first()


def _replay_or_conflict(existing: Coupon, *, template: CouponTemplate, member: Member, actor=None) -> Coupon:
    if existing.source == Coupon.Source.MANUAL:
        # A staff request: loyalty's one idempotency rule (same request, and the caller may issue coupons).
        return replay(
            existing,
            same=existing.member_id == member.pk and existing.template_id == template.pk,
            actor=actor,
            action=Action.MANAGE_CAMPAIGNS,
            store=None,
            message=_("This request id was already used to issue a different coupon."),
        )
    # Any other issue gives a member one coupon: a birthday automation whose template changed since
    # it ran does not give a second birthday coupon.
    return as_replay(existing)


@transaction.atomic
def coupon_issue(
    *,
    template: CouponTemplate,
    member: Member,
    source: str,
    issue_key: str,
    actor=None,
    campaign: Campaign | None = None,
    automation: Automation | None = None,
    now: datetime | None = None,
    audit_data: dict | None = None,
) -> Coupon:
    """Issue one coupon of `template` to `member`, once per (member, issue_key).

    `actor` is the staff member issuing by hand (they need MANAGE_CAMPAIGNS, and it is audited); the
    system's issues (registration, birthday, automations, the points mall) pass none. The same issue
    again answers the first coupon (marked as a replay).
    """
    _validate_issue_key(issue_key)
    source = Coupon.Source(source)
    now = now or timezone.now()
    if actor is not None:
        require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    existing = _existing(member=member, issue_key=issue_key, source=source)
    if existing is not None:
        return _replay_or_conflict(existing, template=template, member=member, actor=actor)
    if member.is_frozen:
        raise _error("member", _("This member is frozen and cannot receive coupons."), "member_frozen")
    _refuse_inactive(template)
    coupon_validity(template, now=now)
    lock_points_account(member)
    existing = _existing(member=member, issue_key=issue_key, source=source)
    if existing is not None:
        return _replay_or_conflict(existing, template=template, member=member, actor=actor)
    template = _claim_one(template)
    if template.per_member_limit is not None:
        held = Coupon.objects.filter(template=template, member=member).exclude(status=Coupon.Status.VOID).count()
        if held >= template.per_member_limit:
            raise _error(
                "member",
                _("This member already has %(held)d of “%(name)s”, the most one member may have."),
                "coupon_limit_reached",
                held=held,
                name=template.name,
            )
    valid_from, valid_until = coupon_validity(template, now=now)
    coupon = None
    for _attempt in range(_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                coupon = Coupon.objects.create(
                    template=template,
                    code=new_coupon_code(),
                    member=member,
                    source=source,
                    issue_key=issue_key,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    issued_by=actor if actor is not None and actor.is_authenticated else None,
                    campaign=campaign,
                    automation=automation,
                )
            break
        except IntegrityError:
            existing = _existing(member=member, issue_key=issue_key, source=source)
            if existing is not None:
                # A bulk issue (which takes no member locks) gave it meanwhile: hand the unit back.
                CouponTemplate.objects.filter(pk=template.pk).update(issued_count=F("issued_count") - 1)
                return _replay_or_conflict(existing, template=template, member=member, actor=actor)
            # Otherwise the code was taken: draw another.
    if coupon is None:
        raise _error("code", _("Could not draw a free coupon code; please try again."), "coupon_code_exhausted")
    if actor is not None:
        audit_record(
            actor=actor,
            action="coupon.issued",
            target=coupon,
            data={
                "template": template.pk,
                "member": member.code,
                "source": source,
                "issue_key": issue_key,
                **(audit_data or {}),
            },
        )
    return coupon


def coupon_usable_by(template: CouponTemplate, member: Member) -> str:
    """ "" if `member` can use coupons of `template` (campaigns.eligibility, checkout's rule), else why not."""
    conditions = CouponConditions.of(template)
    reason = conditions.nobody_reason()
    if reason:
        return nobody_message(template, reason)
    if members_who_can_use(template, Member.objects.filter(pk=member.pk), conditions=conditions).exists():
        return ""
    tier = MemberStats.objects.filter(member=member).values_list("tier__name", flat=True).first()
    tiers = Tier.objects.filter(pk__in=conditions.tier_ids).order_by("rank").values_list("name", flat=True)
    said = {"name": template.name, "tiers": pgettext("list separator", ", ").join(tiers), "member": member.name}
    if tier is None:
        return _("“%(name)s” is for members of %(tiers)s only, and %(member)s has no tier.") % said
    return _("“%(name)s” is for members of %(tiers)s only, and %(member)s is %(tier)s.") % {**said, "tier": tier}


def coupon_issue_request(
    *, request_id: str, template: CouponTemplate, member: Member, actor, issue_anyway: bool = False
) -> Coupon:
    """A coupon issued by staff (the admin page, POST /api/v1/coupons/): idempotent by request id,
    which is unique across members. A member who cannot use the coupon (campaigns.eligibility) is refused
    with the reason (coupon_not_usable) unless `issue_anyway`, which the audit row records."""
    validate_request_id(request_id)
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    issue_key = f"manual:{request_id}"
    unusable = ""
    if _existing(member=member, issue_key=issue_key, source=Coupon.Source.MANUAL) is None:
        unusable = coupon_usable_by(template, member)
        if unusable and not issue_anyway:
            raise _error(
                "member",
                _("%(reason)s They could never use it: issue it anyway only if that is what you mean."),
                "coupon_not_usable",
                reason=unusable,
            )
    return coupon_issue(
        template=template,
        member=member,
        source=Coupon.Source.MANUAL,
        issue_key=issue_key,
        actor=actor,
        audit_data={"issued_anyway": unusable} if unusable else None,
    )


# --- bulk ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkIssueResult:
    issued: int
    already_issued: int
    at_limit: int
    frozen: int

    @property
    def members(self) -> int:
        return self.issued + self.already_issued + self.at_limit + self.frozen


_BATCH = "campaigns_bulk_issue_batch"
_CODES = "campaigns_bulk_issue_codes"


def _drop_work_tables(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {_BATCH}")
    cursor.execute(f"DROP TABLE IF EXISTS {_CODES}")


def _load_codes(cursor, codes: list[str]) -> None:
    """Replace the codes table's rows by `codes`, numbered from 1."""
    cursor.execute(f"DELETE FROM {_CODES}")
    rows = ((rn, code) for rn, code in enumerate(codes, start=1))
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {_CODES} (rn, code) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        cursor.executemany(f"INSERT INTO {_CODES} (rn, code) VALUES (%s, %s)", list(rows))


def _draw_codes(cursor, count: int) -> None:
    """Fill the codes table with `count` codes that no coupon has yet."""
    codes = new_coupon_codes(count)
    for _round in range(_BULK_CODE_ROUNDS):
        _load_codes(cursor, codes)
        cursor.execute(f"SELECT k.code FROM {_CODES} k JOIN campaigns_coupon c ON c.code = k.code")
        taken = {row[0] for row in cursor.fetchall()}
        if not taken:
            return
        drawn = set(codes)
        fresh = iter(code for code in new_coupon_codes(len(taken) * 2) if code not in drawn)
        codes = [next(fresh) if code in taken else code for code in codes]
    raise _error("code", _("Could not draw free coupon codes; please try again."), "coupon_code_exhausted")


@contextmanager
def _without_jit(cursor):
    """PostgreSQL's JIT compilation costs a quarter of a second on a statement whose estimate looks large
    (the members import measured it); off for the bulk INSERT, put back after it."""
    if connection.vendor != "postgresql":
        yield
        return
    cursor.execute("SELECT current_setting('jit')")
    jit = cursor.fetchone()[0]
    cursor.execute("SET LOCAL jit = off")
    try:
        yield
    finally:
        cursor.execute("SELECT set_config('jit', %s, true)", [jit])


@transaction.atomic
def coupons_issue_bulk(
    *,
    template: CouponTemplate,
    members: QuerySet[Member],
    source: str,
    issue_key: str,
    actor=None,
    campaign: Campaign | None = None,
    automation: Automation | None = None,
    now: datetime | None = None,
) -> BulkIssueResult:
    """Issue one coupon of `template` to each of `members` (a segment's queryset), set-based: the
    members are classified and the coupons written by a few statements whatever their number.

    Members who already have a coupon under `issue_key` are counted, not issued again (the same bulk
    issue twice changes nothing the second time); frozen members and members at the template's
    per-member limit are skipped and counted. If the template's quantity left cannot cover everyone
    to be issued, nothing is issued and the refusal says how many are left.
    """
    _validate_issue_key(issue_key)
    source = Coupon.Source(source)
    if source == Coupon.Source.MANUAL:
        raise ValueError("coupons issued by hand go one by one (coupon_issue_request)")
    now = now or timezone.now()
    if actor is not None:
        require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    # The template's row, locked to the end: no other bulk or single issue of it moves its count meanwhile.
    template = CouponTemplate.objects.select_for_update().get(pk=template.pk)
    _refuse_inactive(template)
    valid_from, valid_until = coupon_validity(template, now=now)
    try:
        members_sql, members_params = members.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        # A filter that can match no one (pk__in=[]): nobody to issue to.
        return BulkIssueResult(issued=0, already_issued=0, at_limit=0, frozen=0)
    ops = connection.ops
    limit = template.per_member_limit
    # Joins to aggregates rather than a subquery per member: one pass over the coupons whatever the
    # planner believes of a table a bulk issue has just grown by 100,000 rows (its statistics lag).
    held = (
        "LEFT JOIN (SELECT member_id, COUNT(*) AS n FROM campaigns_coupon WHERE template_id = %s "
        "AND status <> 'void' GROUP BY member_id) h ON h.member_id = m.id "
        if limit is not None
        else ""
    )
    with connection.cursor() as cursor:
        _drop_work_tables(cursor)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_BATCH} AS "
            "SELECT m.id AS member_id, m.status AS status, "
            "CASE WHEN k.member_id IS NULL THEN 0 ELSE 1 END AS has_key, "
            f"{'COALESCE(h.n, 0)' if limit is not None else '0'} AS held "
            "FROM members_member m "
            "LEFT JOIN (SELECT DISTINCT member_id FROM campaigns_coupon WHERE issue_key = %s) k "
            "ON k.member_id = m.id "
            f"{held}"
            f"WHERE m.id IN ({members_sql})",
            [issue_key, *([template.pk] if limit is not None else []), *members_params],
        )
        if connection.vendor == "postgresql":
            # Temporary tables are never analysed by autovacuum; the insert below joins on this one.
            cursor.execute(f"ANALYZE {_BATCH}")
        cursor.execute(
            "SELECT "
            "COALESCE(SUM(CASE WHEN has_key = 1 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN has_key = 0 AND status = 'frozen' THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN has_key = 0 AND status <> 'frozen' AND held >= %s THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN has_key = 0 AND status <> 'frozen' AND held < %s THEN 1 ELSE 0 END), 0) "
            f"FROM {_BATCH}",
            [limit if limit is not None else 1, limit if limit is not None else 1],
        )
        already, frozen, at_limit, wanted = (int(v) for v in cursor.fetchone())
        left = _quantity_left(template)
        if left is not None and wanted > left:
            _drop_work_tables(cursor)
            raise _error(
                "template",
                _("Only %(left)d coupons of “%(name)s” are left, and this issue needs %(wanted)d."),
                "coupon_quantity_exhausted",
                left=left,
                wanted=wanted,
                name=template.name,
            )
        issued = 0
        if wanted:
            cursor.execute(f"CREATE TEMPORARY TABLE {_CODES} (rn integer PRIMARY KEY, code varchar(20) NOT NULL)")
            params = [
                template.pk,
                source,
                issue_key,
                ops.adapt_datetimefield_value(valid_from),
                ops.adapt_datetimefield_value(valid_until),
                ops.adapt_datetimefield_value(now),
                actor.pk if actor is not None and actor.is_authenticated else None,
                campaign.pk if campaign is not None else None,
                automation.pk if automation is not None else None,
                limit if limit is not None else 1,
            ]
            for attempt in range(_BULK_CODE_ROUNDS):
                _draw_codes(cursor, wanted)
                try:
                    with _without_jit(cursor), transaction.atomic():
                        # ON CONFLICT: a member given this issue by someone else since the classification
                        # keeps that coupon (the row count says how many this issue wrote).
                        cursor.execute(
                            "INSERT INTO campaigns_coupon (template_id, code, member_id, status, source, issue_key, "
                            "valid_from, valid_until, issued_at, issued_by_id, campaign_id, automation_id, discount) "
                            "SELECT %s, k.code, b.member_id, 'issued', %s, %s, %s, %s, %s, %s, %s, %s, 0 "
                            "FROM (SELECT member_id, ROW_NUMBER() OVER (ORDER BY member_id) AS rn "
                            f"      FROM {_BATCH} WHERE has_key = 0 AND status <> 'frozen' AND held < %s) b "
                            f"JOIN {_CODES} k ON k.rn = b.rn WHERE 1 = 1 "
                            "ON CONFLICT (member_id, issue_key) DO NOTHING",
                            params,
                        )
                        issued = cursor.rowcount
                except IntegrityError:
                    # A code taken by a single issue between the draw and the insert: draw again.
                    if attempt == _BULK_CODE_ROUNDS - 1:
                        raise
                    continue
                break
            already += wanted - issued
        _drop_work_tables(cursor)
    if issued:
        CouponTemplate.objects.filter(pk=template.pk).update(issued_count=F("issued_count") + issued)
    if issued >= _ANALYZE_AFTER and connection.vendor == "postgresql":
        # The table has just grown by more than autovacuum would wait for: without fresh statistics the
        # next bulk issue (a retry a minute later) would plan its joins for a table it believes small.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE campaigns_coupon")
    result = BulkIssueResult(issued=issued, already_issued=already, at_limit=at_limit, frozen=frozen)
    if actor is not None:
        audit_record(
            actor=actor,
            action="coupon.bulk_issued",
            target=template,
            data={"source": source, "issue_key": issue_key, **asdict(result)},
        )
    return result


# --- void ----------------------------------------------------------------------------------------


@transaction.atomic
def coupon_void(*, coupon: Coupon, actor, reason: str) -> Coupon:
    """HQ takes back an unused coupon (issued by mistake, a member's complaint settled otherwise).
    Audited with the reason. Voiding it again answers the voided coupon; a used coupon cannot be voided."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    reason = (reason or "").strip()
    if not reason:
        raise _error("reason", _("Give a reason for voiding the coupon."), "reason_required")
    voided = Coupon.objects.filter(pk=coupon.pk, status=Coupon.Status.ISSUED).update(status=Coupon.Status.VOID)
    coupon = Coupon.objects.select_related("member", "template").get(pk=coupon.pk)
    if not voided:
        if coupon.status == Coupon.Status.VOID:
            return as_replay(coupon)
        raise _error(
            "coupon", _("Coupon %(code)s was used on a sale and cannot be voided."), "coupon_used", code=coupon.code
        )
    audit_record(
        actor=actor,
        action="coupon.voided",
        target=coupon,
        reason=reason,
        data={"code": coupon.code, "member": coupon.member.code, "template": coupon.template_id},
    )
    return coupon


# --- registration gift ---------------------------------------------------------------------------


def coupons_on_registration(member: Member) -> None:
    """members.services.register_member_registered_hook: a new member gets the registration gifts.

    It runs inside the registering transaction, so it costs one query when there is no gift. A gift
    that cannot be given (its quantity is used up, its validity has ended, the new member cannot use it:
    a tier they do not have) is skipped: a member's registration never fails for a coupon.
    """
    templates = CouponTemplate.objects.filter(on_registration=True, is_active=True).order_by("pk")
    for template in templates:
        if coupon_usable_by(template, member):
            continue  # a gift the new member could never use (a 金卡 coupon) is no gift
        try:
            coupon_issue(
                template=template,
                member=member,
                source=Coupon.Source.REGISTRATION,
                issue_key=f"registration:{template.pk}",
            )
        except ValidationError:
            continue
