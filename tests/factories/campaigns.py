import factory
from django.utils import timezone

from campaigns.models import Message, MessageChannel, MessageTemplate


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    """A valid template, written directly (message_template_save is what the back office uses)."""

    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"模板{n}")
    channel = MessageChannel.SMS
    body = "{name}您好，您有{points}积分可用。"
    subject = factory.LazyAttribute(lambda t: "{name}，会员消息" if t.channel == MessageChannel.EMAIL else "")
    wechat_template_id = factory.LazyAttribute(lambda t: "TPL-001" if t.channel == MessageChannel.WECHAT else "")


class MessageFactory(factory.django.DjangoModelFactory):
    """An outbox row as the queue services write it: queued, due now, to the member's phone."""

    class Meta:
        model = Message

    channel = MessageChannel.SMS
    purpose = Message.Purpose.MARKETING
    recipient = factory.LazyAttribute(lambda m: m.member.phone)
    body = "王芳您好，您有100积分可用。 回T退订"
    status = Message.Status.QUEUED
    key = factory.Sequence(lambda n: f"test-message:{n}")
    send_after = factory.LazyFunction(timezone.now)
