"""A template's subject and text, checked against the channel's limits and rendered for members.

Limits per channel (the text as rendered, variables at their longest, see variables.max_length):

- SMS: MESSAGE_SMS_MAX_LENGTH characters (500 by default, a long SMS; billed in parts of 67 characters
  when longer than 70), counting the opt-out text marketing SMS end with (MESSAGE_SMS_OPT_OUT_TEXT);
  no subject;
- WeChat template message: 200 characters (the integration lays them out in the template's fields),
  and the official account's template id; no subject;
- email: a subject (at most 150 characters), any text up to the template's 1,000 characters.
"""

import math
from dataclasses import dataclass

from django.conf import settings

from campaigns.messaging.templating import ParsedText, parse
from campaigns.messaging.variables import variable
from campaigns.models import MessageChannel, MessageTemplate

TEMPLATE_BODY_MAX = 1000
TEMPLATE_SUBJECT_MAX = 120
EMAIL_SUBJECT_MAX = 150
WECHAT_BODY_MAX = 200


def sms_max_length() -> int:
    return settings.MESSAGE_SMS_MAX_LENGTH


def sms_opt_out_text() -> str:
    return settings.MESSAGE_SMS_OPT_OUT_TEXT


def body_limit(channel: str) -> int | None:
    if channel == MessageChannel.SMS:
        return sms_max_length()
    if channel == MessageChannel.WECHAT:
        return WECHAT_BODY_MAX
    return None


def sms_parts(length: int) -> int:
    """How many SMS a text of `length` characters is billed as (UCS-2: Chinese text)."""
    if length <= 70:
        return 1
    return math.ceil(length / 67)


def longest(parsed: ParsedText) -> int:
    """The most characters the text can render to: its literals plus each variable at its longest."""
    return parsed.literal_length() + sum(
        (variable(name).max_length if variable(name) else 0) for name in parsed.variables
    )


def appends_opt_out(channel: str, *, marketing: bool, body: str) -> bool:
    """Marketing SMS end with how to opt out, unless the text already says it (退订)."""
    text = sms_opt_out_text()
    return bool(channel == MessageChannel.SMS and marketing and text and "退订" not in body)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class TemplateRenderer:
    """A saved template, parsed once, rendered for many members."""

    def __init__(self, template: MessageTemplate, *, marketing: bool):
        self.template = template
        self.channel = template.channel
        self.marketing = marketing
        self.subject = parse(template.subject) if template.channel == MessageChannel.EMAIL else parse("")
        self.body = parse(template.body)
        self.suffix = (
            sms_opt_out_text() if appends_opt_out(self.channel, marketing=marketing, body=template.body) else ""
        )

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self.subject.names, *self.body.names]))

    @property
    def problems(self) -> tuple[str, ...]:
        """Anything that makes the template unusable (a template saved outside message_template_save)."""
        return (*self.subject.malformed, *self.body.malformed, *(n for n in self.names if variable(n) is None))

    def render(self, values: dict[str, str]) -> Rendered:
        body = self.body.render(values) + self.suffix
        return Rendered(subject=self.subject.render(values), body=body)
