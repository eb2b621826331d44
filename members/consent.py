"""Marketing consent and its history (PIPL art. 14–15): every change of a member's consent goes through
`consent_set`, which appends a ConsentRecord and derives the member's current consent from it.

The paths that change consent call it: registration at the tablet, by the API and in the back office
(members.services.member_register), an edit in the back office and an opt-out reply or link
(members.services.member_update), and erasure (members.erasure). The members import does not carry consent
(new members start without it, existing members keep theirs), so it writes no record; a consent column added
to it must write the records in its INSERT … SELECT too.
"""

from django.conf import settings
from django.utils import timezone

from members.models import ConsentRecord, Member
from stores.models import Store


def consent_set(
    *,
    member: Member,
    given: bool,
    source: str,
    staff=None,
    store: Store | None = None,
    text_version: str | None = None,
) -> ConsentRecord | None:
    """Record that the member gave (or withdrew) marketing consent, and make it their current consent.
    Nothing is recorded when it changes nothing (consent given again, or withdrawn when there was none).
    Call it inside the transaction of the change (the member's row locked or just inserted)."""
    if member.marketing_consent == given:
        return None
    now = timezone.now()
    record = ConsentRecord.objects.create(
        member=member,
        given=given,
        at=now,
        source=source,
        store=store,
        staff=staff if staff is not None and staff.is_authenticated else None,
        text_version=(settings.MARKETING_CONSENT_TEXT_VERSION if text_version is None else text_version)
        if given
        else "",
    )
    member.marketing_consent = given
    member.consent_at = now if given else None
    member.consent_source = source if given else Member.ConsentSource.NONE
    Member.objects.filter(pk=member.pk).update(
        marketing_consent=member.marketing_consent,
        consent_at=member.consent_at,
        consent_source=member.consent_source,
        updated_at=now,
    )
    return record


def consent_history(member: Member, *, limit: int) -> list[ConsentRecord]:
    return list(
        ConsentRecord.objects.filter(member=member).select_related("store", "staff").order_by("-at", "-id")[:limit]
    )
