"""Writes of the outbox: message templates, queueing (one member or a whole segment), sending, opt-out.

Queueing renders the message at once and decides at once whether it will ever be sent: marketing
messages (every campaign and automation message) need the member's marketing consent, and each
channel needs an address (SMS: the phone, email: the email, WeChat: an openid from the WeChat
integration, campaigns.messaging.addresses). Such messages are written with their reason as status
(no_consent, no_address) so a campaign's outbox accounts for every member. Each message has a key,
unique in the outbox: queueing the same key again answers the first message and writes nothing.

Sending (messages_send_due, run every minute by Celery beat and right after messages are queued):
a worker claims a batch of due messages (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL, so two workers
never claim the same rows; a conditional UPDATE on SQLite), marks each attempt just before calling the
channel's backend, and records the outcome: sent with the provider's id; a temporary failure waits
1, 2, 4 … minutes (at most an hour, after quiet hours) until MESSAGE_MAX_ATTEMPTS; a permanent one
fails at once. A message is never sent twice: a sent message is never claimed again, and one whose
worker died during the backend call (perhaps sent) is failed as "outcome unknown", not retried.
"""

import logging
import secrets
import threading
import time as monotonic_time
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from campaigns.messaging.addresses import addresses_for
from campaigns.messaging.backends import OutgoingMessage, PermanentFailure, TemporaryFailure, backend_for
from campaigns.messaging.bulk import BulkWriter, SharedColumns
from campaigns.messaging.quiet_hours import QuietHours
from campaigns.messaging.render import (
    EMAIL_SUBJECT_MAX,
    TEMPLATE_BODY_MAX,
    TEMPLATE_SUBJECT_MAX,
    TemplateRenderer,
    body_limit,
    longest,
    sms_opt_out_text,
)
from campaigns.messaging.templating import parse
from campaigns.messaging.variables import (
    MEMBER_ROW_COLUMNS,
    MemberRow,
    example_values,
    known_variables,
    variable,
    variable_values,
)
from campaigns.models import Automation, Campaign, Message, MessageChannel, MessageTemplate
from config.errors import field_error as _error
from members.models import Member
from members.phones import normalize_phone
from members.services import member_update
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action
from stores.services import audit_record

logger = logging.getLogger(__name__)

KEY_MAX_LENGTH = 120
BULK_BATCH_SIZE = 2000
CLAIM_BATCH_SIZE = 100
# A worker that holds a claim this long has died (or hangs): what it had not attempted is queued again.
SENDING_TIMEOUT = timedelta(minutes=15)
RETRY_MAX_DELAY = timedelta(hours=1)


def _names(names) -> str:
    return pgettext("list separator", ", ").join("{" + name + "}" for name in names)


# --- templates -----------------------------------------------------------------------------------


def message_template_validate(
    *, name: str, channel: str, body: str, subject: str = "", wechat_template_id: str = ""
) -> None:
    """Refuse a template that cannot be sent as written: every problem, by field, in one error."""
    errors: dict[str, list[ValidationError]] = {}

    def add(field_name: str, message: str, code: str) -> None:
        errors.setdefault(field_name, []).append(ValidationError(message, code=code))

    if not (name or "").strip():
        add("name", _("Give the template a name."), "template_name_required")
    elif len(name.strip()) > 64:
        add("name", _("A name has at most 64 characters."), "template_name_too_long")
    if channel not in MessageChannel.values:
        add("channel", _("Choose SMS, WeChat or email."), "template_channel_unknown")
    if not (body or "").strip():
        add("body", _("Write the text of the message."), "template_body_required")
    elif len(body) > TEMPLATE_BODY_MAX:
        add(
            "body",
            _("The text has %(length)d characters; the most is %(limit)d.")
            % {"length": len(body), "limit": TEMPLATE_BODY_MAX},
            "template_body_too_long",
        )
    if channel == MessageChannel.EMAIL:
        if not (subject or "").strip():
            add("subject", _("An email needs a subject."), "template_subject_required")
        elif len(subject) > TEMPLATE_SUBJECT_MAX:
            add(
                "subject",
                _("The subject has %(length)d characters; the most is %(limit)d.")
                % {"length": len(subject), "limit": TEMPLATE_SUBJECT_MAX},
                "template_subject_too_long",
            )
    elif subject and subject.strip():
        add(
            "subject",
            _("Only an email has a subject; leave it empty for SMS and WeChat."),
            "template_subject_not_allowed",
        )
    if channel == MessageChannel.WECHAT and not (wechat_template_id or "").strip():
        add(
            "wechat_template_id",
            _("A WeChat message needs the official account's template id."),
            "template_wechat_id_required",
        )

    texts = {"body": body or ""}
    if channel == MessageChannel.EMAIL:
        texts["subject"] = subject or ""
    for field_name, text in texts.items():
        parsed = parse(text)
        if parsed.malformed:
            add(
                field_name,
                _("Malformed braces: %(fragments)s. Write a variable as {name}, a brace itself as {{ or }}.")
                % {"fragments": pgettext("list separator", ", ").join(f"“{f}”" for f in parsed.malformed)},
                "template_malformed",
            )
        unknown = [n for n in parsed.names if variable(n) is None]
        if unknown:
            add(
                field_name,
                _("Unknown variables: %(unknown)s. Known variables: %(known)s.")
                % {"unknown": _names(unknown), "known": _names(v.name for v in known_variables())},
                "template_unknown_variable",
            )
        if parsed.malformed or unknown or field_name in errors:
            continue
        reach = longest(parsed)
        if field_name == "subject" and reach > EMAIL_SUBJECT_MAX:
            add(
                "subject",
                _("With its variables at their longest the subject has %(length)d characters; the most is %(limit)d.")
                % {"length": reach, "limit": EMAIL_SUBJECT_MAX},
                "template_too_long",
            )
        limit = body_limit(channel) if field_name == "body" else None
        if limit is not None:
            if channel == MessageChannel.SMS and "退订" not in text:
                reach += len(sms_opt_out_text())
            if reach > limit:
                add(
                    "body",
                    _(
                        "With its variables at their longest (and the opt-out text of marketing SMS) this message "
                        "has %(length)d characters; the most for %(channel)s is %(limit)d."
                    )
                    % {"length": reach, "channel": MessageChannel(channel).label, "limit": limit},
                    "template_too_long",
                )
    if errors:
        raise ValidationError(errors)


TEMPLATE_FIELDS = ("name", "channel", "subject", "body", "wechat_template_id")


@transaction.atomic
def message_template_save(
    *,
    actor,
    name: str,
    channel: str,
    body: str,
    subject: str = "",
    wechat_template_id: str = "",
    template: MessageTemplate | None = None,
) -> MessageTemplate:
    """Create or change a message template (MANAGE_CAMPAIGNS), audited; a bad one writes nothing."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    message_template_validate(
        name=name, channel=channel, body=body, subject=subject, wechat_template_id=wechat_template_id
    )
    values = {
        "name": name.strip(),
        "channel": channel,
        "subject": subject.strip() if channel == MessageChannel.EMAIL else "",
        "body": body.strip(),
        "wechat_template_id": wechat_template_id.strip() if channel == MessageChannel.WECHAT else "",
    }
    if template is None or template.pk is None:
        template = MessageTemplate.objects.create(**values)
        before, changed = {}, list(TEMPLATE_FIELDS)
    else:
        template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
        before = {f: getattr(template, f) for f in TEMPLATE_FIELDS}
        changed = [f for f in TEMPLATE_FIELDS if before[f] != values[f]]
        if not changed:
            return template
        for f in changed:
            setattr(template, f, values[f])
        template.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action="campaigns.message_template_saved",
        target=template,
        data={
            "created": not before,
            "changed": changed,
            "before": {f: before[f] for f in changed} if before else {},
            "after": {f: values[f] for f in changed},
        },
    )
    return template


# --- queueing ------------------------------------------------------------------------------------


@dataclass
class _Drafting:
    """What one queue call shares over all its members: the template, when, why, and for whom."""

    template: MessageTemplate
    renderer: TemplateRenderer
    purpose: str
    send_after: datetime
    quiet: QuietHours | None
    campaign: Campaign | None
    automation: Automation | None
    context: Mapping[str, Any]

    def drafts(self, members: list[MemberRow]) -> Iterator[tuple[MemberRow, dict | None, list[str]]]:
        """(member, the message's columns or None, the variables without a value for that member)."""
        values = variable_values(members, self.renderer.names, self.context)
        addresses = addresses_for(self.template.channel, members)
        for member in members:
            member_values = values[member.pk]
            missing = [name for name, value in member_values.items() if value is None]
            if missing:
                yield member, None, missing
                continue
            rendered = self.renderer.render(member_values)
            address = addresses.get(member.pk, "")
            if self.purpose == Message.Purpose.MARKETING and not member.marketing_consent:
                status, address = Message.Status.NO_CONSENT, ""
            elif not address:
                status = Message.Status.NO_ADDRESS
            else:
                status = Message.Status.QUEUED
            yield (
                member,
                {"recipient": address, "subject": rendered.subject, "body": rendered.body, "status": status},
                [],
            )


def _drafting(
    *,
    template: MessageTemplate,
    context: Mapping[str, Any] | None,
    campaign: Campaign | None,
    automation: Automation | None,
    send_after: datetime | None,
    quiet_hours,
    marketing: bool,
) -> _Drafting:
    if (campaign is not None or automation is not None) and not marketing:
        raise _error(
            None,
            _("Campaign and automation messages are marketing: they need the member's consent."),
            "message_is_marketing",
        )
    quiet = QuietHours.of(quiet_hours)
    renderer = TemplateRenderer(template, marketing=marketing)
    if renderer.problems:
        raise _error(
            "template",
            _("The template “%(template)s” cannot be sent as it is: %(problems)s. Correct it first.")
            % {"template": template.name, "problems": pgettext("list separator", ", ").join(renderer.problems)},
            "template_invalid",
        )
    when = send_after or timezone.now()
    if quiet is not None:
        when = quiet.next_allowed(when)
    return _Drafting(
        template=template,
        renderer=renderer,
        purpose=Message.Purpose.MARKETING if marketing else Message.Purpose.SERVICE,
        send_after=when,
        quiet=quiet,
        campaign=campaign,
        automation=automation,
        context=context or {},
    )


def _check_key(key: str, *, field_name: str = "key") -> str:
    key = (key or "").strip()
    if not key:
        raise _error(field_name, _("A message needs a key (e.g. campaign:12:member:345)."), "message_key_required")
    if len(key) > KEY_MAX_LENGTH:
        raise _error(
            field_name,
            _("A message key has at most %(limit)d characters.") % {"limit": KEY_MAX_LENGTH},
            "message_key_too_long",
        )
    return key


def _replay(message: Message) -> Message:
    message.replayed = True
    return message


@transaction.atomic
def message_queue(
    *,
    member: Member,
    template: MessageTemplate,
    key: str,
    context: Mapping[str, Any] | None = None,
    campaign: Campaign | None = None,
    automation: Automation | None = None,
    send_after: datetime | None = None,
    quiet_hours: QuietHours | tuple[time, time] | None = None,
    marketing: bool = True,
) -> Message:
    """Queue one message to one member, rendered now; the same key again answers the first message.

    `context` carries what the template needs beyond the member (the coupon just issued: {"coupon":
    coupon}); a variable without a value is refused (message_variable_missing) and nothing is written.
    Messages are marketing unless the caller says `marketing=False` (a service notice such as "your
    mall order is ready"); campaign and automation messages always are. `send_after` delays it;
    `quiet_hours` (start, end) in China time move it to the end of the quiet period it falls in.
    """
    key = _check_key(key)
    existing = Message.objects.filter(key=key).first()
    if existing is not None:
        return _replay(existing)
    drafting = _drafting(
        template=template,
        context=context,
        campaign=campaign,
        automation=automation,
        send_after=send_after,
        quiet_hours=quiet_hours,
        marketing=marketing,
    )
    [(_row, columns, missing)] = list(drafting.drafts([MemberRow.of(member)]))
    if columns is None:
        raise _error(
            "context",
            _("No value for %(variables)s for this member: give it in the context (e.g. the coupon just issued).")
            % {"variables": _names(missing)},
            "message_variable_missing",
        )
    message = Message(
        member=member,
        template=template,
        channel=template.channel,
        purpose=drafting.purpose,
        key=key,
        send_after=drafting.send_after,
        quiet_start=drafting.quiet.start if drafting.quiet else None,
        quiet_end=drafting.quiet.end if drafting.quiet else None,
        campaign=campaign,
        automation=automation,
        **columns,
    )
    try:
        # The savepoint lets a lost race on the key answer the winner instead of aborting the caller.
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        existing = Message.objects.filter(key=key).first()
        if existing is None:
            raise
        return _replay(existing)
    if message.status == Message.Status.QUEUED:
        transaction.on_commit(messages_send_soon)
    return message


@dataclass
class BulkQueueResult:
    """What a bulk queue wrote, by status, and what it did not write and why."""

    written: Counter = field(default_factory=Counter)
    already_queued: int = 0
    missing_values: int = 0

    @property
    def total_written(self) -> int:
        return sum(self.written.values())

    def as_dict(self) -> dict[str, int]:
        return {
            **{s: self.written.get(s, 0) for s in Message.Status.values},
            "already_queued": self.already_queued,
            "missing_values": self.missing_values,
        }


def _member_batches(members: QuerySet[Member], batch_size: int) -> Iterator[list[MemberRow]]:
    """The queryset's members in batches, in one streamed pass (a server-side cursor on PostgreSQL), as
    the plain rows variables and addresses read. A sliced or ordered queryset ("the top 1,000 by
    points") stays what it is; any other is read in id order (its default order is a sort nobody needs)."""
    rows = members.values_list(*MEMBER_ROW_COLUMNS)
    if not members.query.is_sliced:
        rows = rows.order_by("pk")
    batch: list[MemberRow] = []
    for pk, code, name, phone, email, consent, store_name in rows.iterator(chunk_size=batch_size):
        batch.append(MemberRow(pk, code, name, phone, email, consent, store_name or ""))
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


@transaction.atomic
def messages_queue_bulk(
    *,
    members: QuerySet[Member],
    template: MessageTemplate,
    key_prefix: str,
    context: Mapping[str, Any] | None = None,
    campaign: Campaign | None = None,
    automation: Automation | None = None,
    send_after: datetime | None = None,
    quiet_hours: QuietHours | tuple[time, time] | None = None,
    marketing: bool = True,
    batch_size: int = BULK_BATCH_SIZE,
) -> BulkQueueResult:
    """Queue the template to every member of `members`, set-based: the key of each is
    "<key_prefix>:<member id>", so running it again (or on two workers at once) writes only what is
    missing. Members without a value for a variable (no coupon under `coupon_issue_key`) are not
    written and are counted as missing_values. A constant number of queries per batch of members."""
    _check_key(f"{key_prefix}:{2**63}", field_name="key_prefix")
    drafting = _drafting(
        template=template,
        context=context,
        campaign=campaign,
        automation=automation,
        send_after=send_after,
        quiet_hours=quiet_hours,
        marketing=marketing,
    )
    shared = SharedColumns(
        template_id=template.pk,
        channel=template.channel,
        purpose=drafting.purpose,
        send_after=drafting.send_after,
        quiet_start=drafting.quiet.start if drafting.quiet else None,
        quiet_end=drafting.quiet.end if drafting.quiet else None,
        campaign_id=campaign.pk if campaign else None,
        automation_id=automation.pk if automation else None,
        created_at=timezone.now(),
    )
    result = BulkQueueResult()
    with BulkWriter(shared) as writer:
        for batch in _member_batches(members, batch_size):
            rows = []
            for member, columns, _missing in drafting.drafts(batch):
                if columns is None:
                    result.missing_values += 1
                    continue
                rows.append(
                    (
                        member.pk,
                        columns["recipient"],
                        columns["subject"],
                        columns["body"],
                        columns["status"],
                        f"{key_prefix}:{member.pk}",
                    )
                )
            written = writer.write(rows)
            result.already_queued += len(rows) - sum(written.values())
        result.written = writer.written
    if result.written.get(Message.Status.QUEUED):
        transaction.on_commit(messages_send_soon)
    return result


# --- a test to oneself -----------------------------------------------------------------------------


def _staff_address(actor, channel: str) -> str:
    if channel == MessageChannel.EMAIL:
        if not actor.email:
            raise _error(
                None, _("Your login has no email address: add one to your account to receive tests."), "test_no_address"
            )
        return actor.email
    if channel == MessageChannel.SMS:
        phone = getattr(getattr(actor, "staff_profile", None), "phone", "") or ""
        try:
            return normalize_phone(phone)
        except ValidationError:
            raise _error(
                None, _("Your staff profile has no mobile phone: add one to receive test SMS."), "test_no_address"
            ) from None
    raise _error(
        None,
        _("Tests of WeChat messages cannot go to staff (their openid is unknown here): use the preview."),
        "test_no_address",
    )


@transaction.atomic
def message_send_test(*, template: MessageTemplate, member: Member | None, actor, request_id: str) -> Message:
    """Queue the template, rendered for `member` (or with example values), to the staff member's own
    address: their login's email, or their staff profile's phone. Audited; sent like any message."""
    require_staff_can(actor, Action.MANAGE_CAMPAIGNS)
    key = _check_key(f"test:{request_id}", field_name="request_id")
    existing = Message.objects.filter(key=key).first()
    if existing is not None:
        return _replay(existing)
    if member is None:
        raise _error("member", _("Choose the member to render the test for."), "member_required")
    address = _staff_address(actor, template.channel)
    renderer = TemplateRenderer(template, marketing=True)
    if renderer.problems:
        raise _error("template", _("Correct the template first."), "template_invalid")
    values = variable_values([member], renderer.names, {})[member.pk]
    examples = example_values(renderer.names)
    rendered = renderer.render({name: value if value is not None else examples[name] for name, value in values.items()})
    message = Message.objects.create(
        member=member,
        template=template,
        channel=template.channel,
        purpose=Message.Purpose.TEST,
        recipient=address,
        subject=rendered.subject,
        body=rendered.body,
        status=Message.Status.QUEUED,
        key=key,
        send_after=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="campaigns.message_test_sent",
        target=message,
        data={"template": template.pk, "member": member.code, "channel": template.channel},
    )
    transaction.on_commit(messages_send_soon)
    return message


# --- opt-out -------------------------------------------------------------------------------------

# What members reply to a marketing SMS to stop them (回T退订), in any case, full- or half-width.
OPT_OUT_REPLIES = frozenset({"t", "td", "n", "退订", "退", "取消", "拒收", "unsubscribe", "stop"})


def is_opt_out_reply(text: str) -> bool:
    return unicodedata.normalize("NFKC", text or "").strip().strip("。.!！").lower() in OPT_OUT_REPLIES


class OptOutSource:
    SMS_REPLY = "sms_reply"
    EMAIL_UNSUBSCRIBE = "email_unsubscribe"
    WECHAT = "wechat"
    STAFF = "staff"
    ALL = (SMS_REPLY, EMAIL_UNSUBSCRIBE, WECHAT, STAFF)


@dataclass
class OptOutResult:
    member: Member
    changed: bool
    messages_cancelled: int


def _require_may_opt_out(actor) -> None:
    # Withdrawing consent is always in the member's favour: HQ, marketers and store staff (a member at
    # the till) may record it, and so may integrations with one of these roles.
    if not (
        staff_can(actor, Action.EDIT_MEMBERS)
        or staff_can(actor, Action.MANAGE_CAMPAIGNS)
        or staff_can(actor, Action.LOOKUP_MEMBER)
    ):
        raise PermissionDenied(_("Your role does not allow this."))


@transaction.atomic
def member_opt_out(
    *, member: Member, source: str, actor, channel: str | None = None, reply: str | None = None
) -> OptOutResult:
    """The member withdraws marketing consent (a "T" reply to an SMS, an unsubscribe link, at the till):
    consent is withdrawn through members.services.member_update (for every channel: consent is one
    switch), audited, and the member's marketing messages not yet sent are marked no_consent. Again
    for a member without consent changes nothing and writes no audit row."""
    _require_may_opt_out(actor)
    if source not in OptOutSource.ALL:
        raise _error("source", _("Unknown opt-out source."), "opt_out_source_unknown")
    if channel is not None and channel not in MessageChannel.values:
        raise _error("channel", _("Choose SMS, WeChat or email."), "opt_out_channel_unknown")
    if reply is not None and not is_opt_out_reply(reply):
        raise _error("reply", _("This reply is not an opt-out (T, TD, N or 退订 are)."), "not_an_opt_out_reply")
    before = {
        "consent_source": member.consent_source,
        "consent_at": member.consent_at.isoformat() if member.consent_at else None,
    }
    changed = False
    if member.marketing_consent:
        member = member_update(
            member=member, actor=actor, marketing_consent=False, consent_source=Member.ConsentSource.OPT_OUT
        )
        changed = True
    cancelled = _cancel_marketing_messages(member.pk, reason=_("Opted out (%(source)s).") % {"source": source})
    if changed:
        audit_record(
            actor=actor,
            action="member.marketing_opt_out",
            target=member,
            reason=reply or "",
            data={"source": source, "channel": channel, "before": before, "messages_cancelled": cancelled},
        )
    return OptOutResult(member=member, changed=changed, messages_cancelled=cancelled)


def _cancel_marketing_messages(member_id: int, *, reason: str) -> int:
    """Marketing messages of the member not sent yet, and not in a backend's hands, are no longer sent."""
    not_attempted = Q(status=Message.Status.QUEUED) | (
        Q(status=Message.Status.SENDING) & (Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=F("claimed_at")))
    )
    return Message.objects.filter(not_attempted, member_id=member_id, purpose=Message.Purpose.MARKETING).update(
        status=Message.Status.NO_CONSENT, error=reason[:255], claim_token="", claimed_at=None
    )


# --- sending -------------------------------------------------------------------------------------


def _backoff(attempt: int) -> timedelta:
    delay = timedelta(seconds=settings.MESSAGE_RETRY_SECONDS * 2 ** max(0, attempt - 1))
    return min(delay, RETRY_MAX_DELAY)


def messages_recover_stale(*, now: datetime | None = None) -> dict[str, int]:
    """Claims older than SENDING_TIMEOUT belong to a worker that died: what it had not attempted is queued
    again; the message it was sending when it died may have gone out, so it fails as "outcome unknown"."""
    now = now or timezone.now()
    stale = Message.objects.filter(status=Message.Status.SENDING, claimed_at__lt=now - SENDING_TIMEOUT)
    requeued = stale.filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=F("claimed_at"))).update(
        status=Message.Status.QUEUED, claim_token="", claimed_at=None
    )
    unknown = stale.update(
        status=Message.Status.FAILED,
        error=_("Outcome unknown: the worker stopped while sending; not retried so it is never sent twice.")[:255],
    )
    return {"requeued": requeued, "unknown": unknown}


def _claim(*, batch_size: int, now: datetime) -> tuple[str, list[tuple[OutgoingMessage, int, QuietHours | None]]]:
    """Claim up to batch_size due messages for this run: (token, [(message, attempts so far, quiet hours)])."""
    token = secrets.token_hex(16)
    with transaction.atomic():
        due = list(
            Message.objects.filter(status=Message.Status.QUEUED, send_after__lte=now)
            .order_by("send_after", "id")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:batch_size]
        )
        if not due:
            return token, []
        # Consent can be withdrawn after queueing without going through the outbox (the member's page).
        Message.objects.filter(pk__in=due, purpose=Message.Purpose.MARKETING, member__marketing_consent=False).update(
            status=Message.Status.NO_CONSENT, error=_("Consent withdrawn before sending.")[:255]
        )
        Message.objects.filter(pk__in=due, status=Message.Status.QUEUED).update(
            status=Message.Status.SENDING, claim_token=token, claimed_at=now
        )
    claimed = (
        Message.objects.filter(claim_token=token, status=Message.Status.SENDING)
        .select_related("template")
        .only(
            "id",
            "key",
            "channel",
            "recipient",
            "subject",
            "body",
            "purpose",
            "attempts",
            "quiet_start",
            "quiet_end",
            "template__wechat_template_id",
        )
        .order_by("send_after", "id")
    )
    return token, [
        (
            OutgoingMessage(
                id=m.pk,
                key=m.key,
                channel=m.channel,
                recipient=m.recipient,
                subject=m.subject,
                body=m.body,
                purpose=m.purpose,
                wechat_template_id=m.template.wechat_template_id if m.template_id and m.template else "",
            ),
            m.attempts,
            QuietHours.of((m.quiet_start, m.quiet_end)),
        )
        for m in claimed
    ]


def _send_one(outgoing: OutgoingMessage, *, token: str, attempts: int, quiet: QuietHours | None) -> str:
    mine = Message.objects.filter(pk=outgoing.id, claim_token=token)
    attempt = attempts + 1
    # From here on the message may have gone out: a worker dying now leaves it "outcome unknown".
    if not mine.filter(status=Message.Status.SENDING).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    ):
        return "skipped"
    try:
        provider_id = backend_for(outgoing.channel).send(outgoing)
    except PermanentFailure as failure:
        mine.update(status=Message.Status.FAILED, error=str(failure)[:255])
        return "failed"
    except Exception as failure:  # temporary, a misconfigured backend, or a bug in an adapter: retried
        if not isinstance(failure, TemporaryFailure):
            logger.exception("message %s: the %s backend raised", outgoing.id, outgoing.channel)
        error = str(failure)[:255] or type(failure).__name__
        if attempt >= settings.MESSAGE_MAX_ATTEMPTS:
            mine.update(status=Message.Status.FAILED, error=error)
            return "failed"
        later = timezone.now() + _backoff(attempt)
        if quiet is not None:
            later = quiet.next_allowed(later)
        mine.update(status=Message.Status.QUEUED, send_after=later, error=error, claim_token="", claimed_at=None)
        return "retry"
    mine.update(
        status=Message.Status.SENT,
        sent_at=timezone.now(),
        provider_id=str(provider_id or "")[:64],
        error="",
        claim_token="",
        claimed_at=None,
    )
    return "sent"


def messages_send_due(*, batch_size: int = CLAIM_BATCH_SIZE, time_budget: float = 50.0) -> dict[str, int]:
    """Send what is due, batch after batch, until nothing is due or `time_budget` seconds have passed
    (the next run carries on). Safe to run twice at once: each message is claimed by one run."""
    summary: Counter[str] = Counter(messages_recover_stale())
    deadline = monotonic_time.monotonic() + time_budget
    while monotonic_time.monotonic() < deadline:
        token, claimed = _claim(batch_size=batch_size, now=timezone.now())
        if not claimed:
            break
        for outgoing, attempts, quiet in claimed:
            summary[_send_one(outgoing, token=token, attempts=attempts, quiet=quiet)] += 1
    return {key: summary.get(key, 0) for key in ("sent", "retry", "failed", "skipped", "requeued", "unknown")}


# Embedded mode (no broker): one sender thread per process, woken whenever messages are queued.
_wakeup = threading.Event()
_sender = threading.Lock()


def messages_send_soon() -> None:
    """After messages are queued: a worker sends them now rather than at the next beat of the minute."""
    if settings.BROKER_CONFIGURED:
        from campaigns.tasks import send_due_messages

        send_due_messages.delay()
        return
    _wakeup.set()
    threading.Thread(target=_send_in_thread, name="outbox-sender", daemon=True).start()


def _send_in_thread() -> None:
    while _wakeup.is_set():
        if not _sender.acquire(blocking=False):
            return  # the running sender sees the wake-up when it finishes its pass
        try:
            while _wakeup.is_set():
                _wakeup.clear()
                messages_send_due(time_budget=600.0)
        except Exception:
            logger.exception("the embedded outbox sender failed")
        finally:
            _sender.release()
            connections.close_all()


__all__ = [
    "BulkQueueResult",
    "OptOutResult",
    "OptOutSource",
    "is_opt_out_reply",
    "member_opt_out",
    "message_queue",
    "message_send_test",
    "message_template_save",
    "message_template_validate",
    "messages_queue_bulk",
    "messages_recover_stale",
    "messages_send_due",
    "messages_send_soon",
]
