"""What campaigns asks of a member's erasure (members.erasure): wait for a points-mall gift still to be
picked up; void unused coupons, stop messages not yet sent and wipe the address and text of the others."""

from django.db.models import F, Q
from django.utils.translation import gettext as _

from campaigns.models import Coupon, MallOrder, Message
from members.erasure import ErasureRequest, ErasureStep, register_erasure_step
from members.models import Member

# The outbox requires an address on a message that was sent; after erasure it only says there was one.
# Stored encrypted like any recipient (members.fields): it is recognised once read, never compared in SQL.
ERASED_RECIPIENT = "[erased]"


def _blockers(member: Member) -> list[str]:
    placed = MallOrder.objects.filter(member=member, status=MallOrder.Status.PLACED).count()
    if placed:
        return [
            _("%(count)d points-mall order(s) wait to be picked up: hand them over or cancel them first.")
            % {"count": placed}
        ]
    return []


def _to_settle(member: Member) -> list[tuple[str, str]]:
    coupons = Coupon.objects.filter(member=member, status=Coupon.Status.ISSUED).count()
    queued = Message.objects.filter(member=member, status=Message.Status.QUEUED).count()
    return [(_("Unused coupons to void"), str(coupons)), (_("Messages not yet sent, to stop"), str(queued))]


def _settle(member: Member, request: ErasureRequest) -> dict:
    coupons = Coupon.objects.filter(member=member, status=Coupon.Status.ISSUED).update(status=Coupon.Status.VOID)
    # Not in a backend's hands yet (the rule of campaigns.services.messaging._cancel_marketing_messages).
    not_attempted = Q(status=Message.Status.QUEUED) | (
        Q(status=Message.Status.SENDING) & (Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=F("claimed_at")))
    )
    stopped = Message.objects.filter(not_attempted, member=member).update(
        status=Message.Status.FAILED, error=_("Not sent: the member was erased."), claim_token="", claimed_at=None
    )
    Message.objects.filter(member=member, status__in=[Message.Status.SENT, Message.Status.SENDING]).update(
        recipient=ERASED_RECIPIENT, body="", subject=""
    )
    Message.objects.filter(member=member).exclude(status__in=[Message.Status.SENT, Message.Status.SENDING]).update(
        recipient="", body="", subject=""
    )
    return {"coupons_voided": coupons, "messages_stopped": stopped}


def register() -> None:
    register_erasure_step(ErasureStep(key="campaigns", blockers=_blockers, to_settle=_to_settle, settle=_settle))
