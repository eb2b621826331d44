"""What service cards ask of a member's erasure (members.erasure): wait while the member holds prepaid
services (a card with uses or validity left must be refunded, or used up, or expire first: it is money the
member paid) or a booking to come, and wipe the staff's notes and the member's signatures, which are
personal data. The uses stay in the ledger with the anonymous member, so the card ledger still reconciles."""

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members.erasure import ErasureRequest, ErasureStep, register_erasure_step
from members.models import Member
from servicecards.models import Appointment, CardEntry, MemberCard


def _cards_with_value(member: Member):
    return (
        MemberCard.objects.filter(member=member, status__in=[MemberCard.Status.ACTIVE, MemberCard.Status.FROZEN])
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .filter(Q(uses_remaining__isnull=True) | Q(uses_remaining__gt=0))
    )


def _blockers(member: Member) -> list[str]:
    reasons = []
    cards = _cards_with_value(member).count()
    if cards:
        reasons.append(
            _("%(count)d service card(s) of this member still hold uses or validity: refund them first.")
            % {"count": cards}
        )
    booked = Appointment.objects.filter(
        member=member, status=Appointment.Status.BOOKED, ends_at__gt=timezone.now()
    ).count()
    if booked:
        reasons.append(
            _("%(count)d appointment(s) of this member are still booked: cancel them first.") % {"count": booked}
        )
    return reasons


def _settle(member: Member, request: ErasureRequest) -> dict:
    wiped = CardEntry.objects.filter(member=member, kind=CardEntry.Kind.USE).update(note="", signature="")
    Appointment.objects.filter(member=member).update(note="")
    return {"service_notes_wiped": wiped}


def register() -> None:
    register_erasure_step(ErasureStep(key="servicecards", blockers=_blockers, settle=_settle))
