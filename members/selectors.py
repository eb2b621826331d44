from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Window

from members.codes import is_member_code, member_code_from_qr
from members.models import Member
from members.phones import normalize_phone, phone_search_prefix


def member_search_filter(text: str) -> Q | None:
    """Turn what someone typed into the narrowest indexed filter.

    A full phone in any format → exact phone; a member code → exact code; a signed QR payload →
    its code; the start of a mobile number → phone prefix; anything else → name prefix (its blind index:
    the name's first one to three characters, or a longer text as the whole name). Each of these is
    served by an index, so searching stays fast at a million members.
    """
    text = text.strip()
    if not text:
        return None
    if text.startswith("MBR1."):
        try:
            return Q(code=member_code_from_qr(text))
        except ValidationError:
            return Q(pk__in=[])
    if is_member_code(text):
        return Q(code=text)
    try:
        return phone_q(normalize_phone(text))
    except ValidationError:
        pass
    prefix = phone_search_prefix(text)
    if prefix is not None:
        return _phone_field().prefix_q(prefix)
    return Member._meta.get_field("name").search_q(text)


def _phone_field():
    return Member._meta.get_field("phone")


def phone_q(e164: str) -> Q:
    """The member with this E.164 phone, through the phone's blind index (the phone is encrypted)."""
    return _phone_field().whole_q(e164)


def phone_prefix_q(e164_prefix: str) -> Q:
    """The members whose phone starts with this E.164 prefix (+86138…), through its prefix indexes."""
    return _phone_field().prefix_q(e164_prefix)


def phones_q(phones) -> Q:
    """The members with any of these E.164 phones."""
    field = _phone_field()
    return Q(phone_index__in=[field.whole_digest(phone) for phone in phones if phone])


def member_by_phone(e164: str) -> Member | None:
    """The member with this E.164 phone, if any (an erased member has none)."""
    return Member.objects.filter(phone_q(e164)).first()


def member_ids_by_phone(phones) -> dict[str, int]:
    """E.164 phone → member id, for the phones that are members'."""
    return dict(Member.objects.filter(phones_q(phones)).values_list("phone", "pk"))


def member_list() -> QuerySet[Member]:
    return Member.objects.select_related("home_store")


def member_lookup(*, text: str) -> QuerySet[Member]:
    condition = member_search_filter(text)
    if condition is None:
        return Member.objects.none()
    # An erased member keeps their code on their old receipts, but is no one to find.
    return member_list().filter(condition).exclude(status=Member.Status.ERASED)


def member_with_phone(phone: str, *, exclude_pk: int | None = None) -> Member | None:
    """The member who has this E.164 phone, if any (for "already registered" messages)."""
    return Member.objects.filter(phone_q(phone)).exclude(pk=exclude_pk).only("code", "name").first()


def member_by_code(code: str) -> Member | None:
    """The member with this code; an erased member is no one (the code stays on the anonymous ledgers)."""
    return Member.objects.filter(code=code).exclude(status=Member.Status.ERASED).first()


def member_by_reference(text: str) -> Member | None:
    """The member a till or an integration addresses by member code or by phone in any format."""
    text = (text or "").strip()
    if not text:
        return None
    if is_member_code(text):
        return member_by_code(text)
    try:
        phone = normalize_phone(text)
    except ValidationError:
        return None
    return member_by_phone(phone)


# --- the 360 page -------------------------------------------------------------------------------


def member_for_360(pk) -> Member | None:
    """The member with what the profile shows (stores, who registered them, referrer, tags): two queries."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:  # a bigint: larger ids would be a database error, not "no such member"
        return None
    return (
        Member.objects.select_related("home_store", "registration_store", "registered_by", "referrer")
        .prefetch_related("tags")
        .filter(pk=pk)
        .first()
    )


def members_referred_by(member: Member, *, limit: int) -> tuple[list[Member], int]:
    """The most recent members `member` referred, and how many in all (one query: a window count)."""
    rows = list(
        Member.objects.filter(referrer_id=member.pk)
        .select_related("home_store")
        .annotate(referred_total=Window(Count("pk")))
        .order_by("-registered_at", "-id")[:limit]
    )
    return rows, (rows[0].referred_total if rows else 0)
