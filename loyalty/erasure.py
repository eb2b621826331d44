"""What loyalty asks of a member's erasure (members.erasure): wait while a sale of theirs may still be
refunded or waits for review, show the stored value to settle, and settle it through the wallet's ledger.

Points stay in the ledger with the anonymous member: they are worth nothing without a member to spend them,
and the erased member is refused by every service as a frozen one is.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from loyalty.models import LoyaltySettings, Sale
from loyalty.selectors import member_wallet_balance
from loyalty.services.locks import lock_points_account
from loyalty.services.policy import refund_window_start
from loyalty.services.wallet import wallet_settle_on_erasure
from members.erasure import ErasureRequest, ErasureStep, register_erasure_step
from members.models import Member


def _blockers(member: Member) -> list[str]:
    reasons = []
    to_review = Sale.objects.filter(member=member, review_state=Sale.ReviewState.PENDING).count()
    if to_review:
        reasons.append(
            _("%(count)d offline sale(s) of this member wait for a manager's review: review them first.")
            % {"count": to_review}
        )
    # A refund after erasure would give points or stored value back to a wallet already settled.
    policy = LoyaltySettings.current()
    last_refundable = (
        Sale.objects.filter(member=member, created_at__gte=refund_window_start(policy))
        .exclude(status=Sale.Status.REFUNDED)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last_refundable is not None:
        reasons.append(
            _("A sale of this member can still be refunded (the refund window is %(days)d days): erase after %(date)s.")
            % {
                "days": policy.refund_window_days,
                "date": formats.date_format(
                    timezone.localtime(last_refundable + timedelta(days=policy.refund_window_days)),
                    "SHORT_DATETIME_FORMAT",
                ),
            }
        )
    return reasons


def _to_settle(member: Member) -> list[tuple[str, str]]:
    principal, bonus = member_wallet_balance(member)
    return [
        (_("Stored value: principal"), f"¥{principal}"),
        (_("Stored value: bonus"), f"¥{bonus}"),
    ]


def _settle(member: Member, request: ErasureRequest) -> dict:
    # Under the member's balance locks (in loyalty.services.locks' order), asked again: a sale rung up
    # since the first check has either committed, and is seen here, or waits for the erasure to end.
    lock_points_account(member)
    reasons = _blockers(member)
    if reasons:
        raise ValidationError({"member": [ValidationError(message, code="erasure_blocked") for message in reasons]})
    return wallet_settle_on_erasure(member=member, actor=request.by, policy=request.stored_value, reason=request.reason)


def register() -> None:
    register_erasure_step(ErasureStep(key="loyalty", blockers=_blockers, to_settle=_to_settle, settle=_settle))
