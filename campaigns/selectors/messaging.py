"""Reads of the outbox and its templates, for the back office and other services."""

from django.db.models import Count, QuerySet

from campaigns.models import Message, MessageTemplate


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
