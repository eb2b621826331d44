"""Reads of the outbox and its templates, for the back office and other services."""

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from campaigns.messaging.addresses import addresses_for
from campaigns.messaging.render import TemplateRenderer, body_limit, sms_parts
from campaigns.messaging.variables import example_values, variable_values
from campaigns.models import Message, MessageChannel, MessageTemplate
from members.models import Member


def message_templates() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.order_by("name", "id")


def outbox() -> QuerySet[Message]:
    """Messages with what a list or page of them shows: the member and their home store, the campaign,
    the automation and the template, in the same query."""
    return Message.objects.select_related("member", "campaign", "automation", "template")


def message_status_counts(messages: QuerySet[Message]) -> dict[str, int]:
    """{status: count} of `messages` (one GROUP BY), every status present, zeros included."""
    counts = dict(messages.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    return {status: counts.get(status, 0) for status in Message.Status.values}


def messages_of_member(member_id: int) -> QuerySet[Message]:
    return outbox().filter(member_id=member_id).order_by("-created_at", "-id")


@dataclass
class MessagePreview:
    """A template rendered for one member (or with example values), and what queueing it would give."""

    subject: str
    body: str
    length: int
    limit: int | None
    sms_parts: int | None
    examples: list[str]
    status: str | None
    recipient: str


def message_preview(*, template: MessageTemplate, member: Member | None = None) -> MessagePreview:
    """Render `template` as a marketing message for `member`: variables without a value for them (the
    coupon a campaign would issue) and every variable without a member show their example values."""
    renderer = TemplateRenderer(template, marketing=True)
    names = renderer.names
    own = variable_values([member], names, {})[member.pk] if member is not None else {}
    examples = example_values(names)
    values = {name: own[name] if own.get(name) is not None else examples.get(name, "") for name in names}
    rendered = renderer.render(values)
    status, recipient = None, ""
    if member is not None:
        recipient = addresses_for(template.channel, [member]).get(member.pk, "")
        if not member.marketing_consent:
            status = Message.Status.NO_CONSENT
        elif not recipient:
            status = Message.Status.NO_ADDRESS
        else:
            status = Message.Status.QUEUED
    length = len(rendered.body)
    return MessagePreview(
        subject=rendered.subject,
        body=rendered.body,
        length=length,
        limit=body_limit(template.channel),
        sms_parts=sms_parts(length) if template.channel == MessageChannel.SMS else None,
        examples=[name for name in names if own.get(name) is None],
        status=status,
        recipient=recipient,
    )
