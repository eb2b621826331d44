"""The member's confirmation code for a service-card use, sent through the outbox as an SMS.

servicecards asks for the code (servicecards.services.confirmation.use_code_issue) but cannot import
campaigns, which owns the outbox: `register()` (from CampaignsConfig.ready()) gives it the sender below.

The message is a service notice (`marketing=False`): no consent needed, no opt-out text, no quiet hours
(the member is standing at the counter). Its template is the chain's own, found by its fixed name and
created in the chain's language the first time a code is sent; HQ may reword it in the templates' page as
long as it keeps {use_code} (a copy without it is passed over and a correct one created again).

The code never reaches a log: it is only in the message's text, which the outbox stores encrypted
(Message.body) and never logs; the template, the key and the cache hold no code in clear.
"""

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.messaging.variables import MemberRow, MessageVariable, register_message_variables
from campaigns.models import Message, MessageChannel, MessageTemplate
from campaigns.services.messaging import message_queue, message_template_validate
from config.errors import field_error
from members.models import Member
from servicecards.models import MemberCard

TEMPLATE_NAME = "服务卡核销验证码"
CODE_VARIABLE = "use_code"


def _no_values(members: Sequence[MemberRow], context: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    # Only the sender knows a code (it passes it in the context): a campaign using {use_code} sends nothing.
    return {}


def _default_body() -> str:
    return _("[{use_store}] Your service card confirmation code is {use_code}, valid for 5 minutes.")


def code_template() -> MessageTemplate:
    """The chain's SMS template of the code: the oldest under its name that still has {use_code}."""
    for template in MessageTemplate.objects.filter(name=TEMPLATE_NAME, channel=MessageChannel.SMS).order_by("pk"):
        if "{" + CODE_VARIABLE + "}" in template.body:
            return template
    with translation.override(settings.LANGUAGE_CODE):
        body = _default_body()
    message_template_validate(name=TEMPLATE_NAME, channel=MessageChannel.SMS, body=body)
    return MessageTemplate.objects.create(name=TEMPLATE_NAME, channel=MessageChannel.SMS, body=body)


def send_use_code(*, member: Member, code: str, card: MemberCard, store=None) -> Message:
    """Queue the SMS with `code` to the card's member (a service notice, sent at once)."""
    if not member.phone:
        raise field_error(
            "confirmation", _("This member has no phone to send a code to: ask for a signature."), "code_no_phone"
        )
    return message_queue(
        member=member,
        template=code_template(),
        # One message per code: the card and a nonce (never the code itself).
        key=f"servicecard-code:{card.pk}:{secrets.token_hex(8)}",
        context={CODE_VARIABLE: code, "use_store": (store or card.store).name},
        marketing=False,
    )


def register() -> None:
    from servicecards.services.confirmation import register_code_sender

    register_message_variables(
        "service_card_code",
        _no_values,
        [
            MessageVariable(
                CODE_VARIABLE,
                "service_card_code",
                gettext_lazy("Service-card confirmation code (only in the code's own message)."),
                "123456",
                6,
            ),
            MessageVariable(
                "use_store",
                "service_card_code",
                gettext_lazy("The store where the card is being used (only in the code's own message)."),
                "上海徐汇店",
                30,
            ),
        ],
    )
    register_code_sender(send_use_code)
