"""Erasure (注销) of a member under PIPL: at their request (an HQ admin, with a reason) or by the retention rule.

What erasure does, in one transaction with the member's row locked:
- asks every registered step why it must wait (a sale still refundable or waiting for review, a points-mall
  gift not yet picked up) and refuses with their messages if any: those would put money or points back to a
  member who no longer exists;
- lets each step settle what the member holds (loyalty: the stored value is paid back or forfeited, through
  the wallet's ledger; campaigns: unused coupons voided, messages not yet sent stopped, the sent ones' address
  and text wiped);
- wipes the personal fields (`_wipe_personal_data`, the only place that knows which they are) and marks the
  member erased; the row stays, with its code, so ledgers, sales and statistics keep an anonymous member;
- writes one audit row with the reason and what was settled.

The phone becomes NULL rather than a placeholder: the UNIQUE index ignores NULLs, so the same number can be
registered again as a new member, and no lookup by phone can reach the erased row.

Apps above members (loyalty, campaigns) register their steps from AppConfig.ready(): members cannot import
them (DESIGN §3).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.consent import consent_set
from members.models import Member
from stores.models import AuditEntry
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record


class StoredValuePolicy(models.TextChoices):
    PAY_BACK = "pay_back", gettext_lazy("Pay the principal back to the member (the bonus is forfeited)")
    FORFEIT = "forfeit", gettext_lazy("Record it as forfeited (the member waived it in writing)")


@dataclass(frozen=True)
class ErasureRequest:
    by: Any  # the staff user, or None for the retention rule
    reason: str
    stored_value: str | None  # a StoredValuePolicy, or None: refuse if there is stored value to settle


@dataclass(frozen=True)
class ErasureStep:
    key: str
    # Why erasure must wait, as sentences for the page; empty when nothing stands in the way.
    blockers: Callable[[Member], list[str]] = lambda member: []
    # What the confirmation page shows the admin before they decide: (label, value) pairs.
    to_settle: Callable[[Member], list[tuple[str, str]]] = lambda member: []
    # Settles what the member holds, inside the erasure's transaction; returns facts for the audit row.
    settle: Callable[[Member, ErasureRequest], dict[str, Any]] = lambda member, request: {}


_steps: dict[str, ErasureStep] = {}


def register_erasure_step(step: ErasureStep) -> None:
    """Add (or replace) a step of every erasure; call it from AppConfig.ready()."""
    _steps[step.key] = step


def erasure_blockers(member: Member) -> list[str]:
    return [reason for step in _steps.values() for reason in step.blockers(member)]


def erasure_to_settle(member: Member) -> list[tuple[str, str]]:
    return [row for step in _steps.values() for row in step.to_settle(member)]


def _wipe_personal_data(member: Member) -> None:
    """Blank every field that identifies the member, in memory; the caller saves.

    The one place that knows which fields are personal: when their storage changes (encryption, blind
    indexes), this is what to adapt. Gender goes too: with the home store and the registration date it
    narrows a person down. The code stays: it is a random number that ledgers, receipts and the access
    log refer to, and identifies no one once the rest is gone.
    """
    member.phone = None
    member.name = ""
    member.email = ""
    member.address = ""
    member.birthday = None
    member.gender = Member.Gender.UNKNOWN
    member.notes = ""
    # Free-text tags are chosen by staff and may name the person ("王总的朋友"): drop them all.
    member.tags.clear()
    # Earlier phone changes kept both numbers in the audit trail: keep the fact, not the numbers.
    AuditEntry.objects.filter(
        target_type=Member._meta.label_lower, target_id=str(member.pk), action="member.phone_changed"
    ).update(data={"before": "", "after": "", "erased": True})


PERSONAL_FIELDS = ["phone", "name", "email", "address", "birthday", "gender", "notes"]


@dataclass
class ErasureOutcome:
    member: Member
    erased: bool  # False when the member had been erased already (nothing was done again)
    settled: dict[str, Any] = field(default_factory=dict)


def erase_member(
    *, member: Member, by, reason: str, stored_value: str | None = StoredValuePolicy.PAY_BACK
) -> ErasureOutcome:
    """Erase the member's personal data irreversibly and settle what they hold; audited with the reason.

    `by` is the HQ admin who was asked, or None for the retention rule (which passes `stored_value=None`, so a
    member with stored value is left for a person to settle). Erasing an erased member again changes nothing
    and answers `erased=False`. Refused, changing nothing, while a step says the member must wait.
    """
    if by is not None:
        require_staff_can(by, Action.ERASE_MEMBER)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ValidationError(_("Give a reason for the erasure."), code="reason_required")})
    if stored_value is not None and stored_value not in StoredValuePolicy.values:
        raise ValidationError(
            {"stored_value": ValidationError(_("Choose how to settle the stored value."), code="invalid_choice")}
        )
    with transaction.atomic():
        # NO KEY: a till's sale inserting ledger rows that point at the member (FOR KEY SHARE) is not blocked
        # by this lock, only by the balance locks the loyalty step takes next, in their usual order.
        member = Member.objects.select_for_update(no_key=True).get(pk=member.pk)
        if member.is_erased:
            return ErasureOutcome(member=member, erased=False)
        blockers = erasure_blockers(member)
        if blockers:
            raise ValidationError(
                {"member": [ValidationError(message, code="erasure_blocked") for message in blockers]}
            )
        request = ErasureRequest(by=by, reason=reason, stored_value=stored_value)
        settled: dict[str, Any] = {}
        for step in _steps.values():
            settled.update(step.settle(member, request))
        # The withdrawal is recorded (members.consent): the history shows why marketing stopped.
        consent_set(member=member, given=False, source=Member.ConsentSource.ERASURE, staff=by)
        _wipe_personal_data(member)
        member.status = Member.Status.ERASED
        member.erased_at = timezone.now()
        member.save(update_fields=[*PERSONAL_FIELDS, "status", "erased_at", "updated_at"])
        audit_record(
            actor=by,
            action="member.erased" if by is not None else "member.erased_by_retention",
            target=member,
            reason=reason,
            data={"code": member.code, **settled},
        )
    return ErasureOutcome(member=member, erased=True, settled=settled)
