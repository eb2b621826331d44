from collections.abc import Callable, Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.codes import new_member_code
from members.consent import consent_set
from members.models import Member, Tag
from members.phones import mask_phone, normalize_phone
from members.selectors import member_with_phone
from stores.models import Store
from stores.services import audit_record

_CODE_ATTEMPTS = 8

_profile_saved_hooks: list[Callable[[Member], None]] = []


def register_profile_saved_hook(hook: Callable[[Member], None]) -> None:
    """For apps that react to a member's profile (loyalty rewards a completed one); members cannot import
    them. Hooks run inside the registering or updating transaction, so a failing hook undoes the change."""
    if hook not in _profile_saved_hooks:
        _profile_saved_hooks.append(hook)


def _profile_saved(member: Member) -> None:
    for hook in _profile_saved_hooks:
        hook(member)


_registered_hooks: list[Callable[[Member], None]] = []


def register_member_registered_hook(hook: Callable[[Member], None]) -> None:
    """For apps that greet a new member (campaigns: a registration coupon). Hooks run inside the
    registering transaction, after the member and their tags are saved."""
    if hook not in _registered_hooks:
        _registered_hooks.append(hook)


def _raise_if_phone_taken(phone: str, *, exclude_pk: int | None = None) -> None:
    existing = member_with_phone(phone, exclude_pk=exclude_pk)
    if existing is not None:
        raise ValidationError(
            {
                "phone": ValidationError(
                    _("This phone number is already registered to member %(code)s."),
                    code="phone_taken",
                    params={"code": existing.code},
                )
            }
        )


def _normalized_phone(phone: str) -> str:
    try:
        return normalize_phone(phone)
    except ValidationError as error:
        raise ValidationError({"phone": error}) from None


@transaction.atomic
def member_register(
    *,
    phone: str,
    name: str,
    gender: str = Member.Gender.UNKNOWN,
    birthday: date | None = None,
    email: str = "",
    address: str = "",
    home_store: Store | None = None,
    store: Store | None = None,
    staff=None,
    channel: str = Member.Channel.STORE,
    referrer: Member | None = None,
    marketing_consent: bool = False,
    consent_source: str = Member.ConsentSource.TABLET,
    notes: str = "",
    tags: Iterable[Tag] = (),
) -> Member:
    """Register a member; the phone in any format, its E.164 form must be new to the chain."""
    phone = _normalized_phone(phone)
    _raise_if_phone_taken(phone)
    member = Member(
        phone=phone,
        name=name.strip(),
        gender=gender or Member.Gender.UNKNOWN,
        birthday=birthday,
        email=email.strip(),
        address=address.strip(),
        home_store=home_store or store,
        registration_store=store,
        registered_by=staff if staff is not None and staff.is_authenticated else None,
        registration_channel=channel,
        # Read now, not by the field's default: the default holds the function itself, which tests' clocks
        # (tests/loyalty/clock.py) cannot move.
        registered_at=timezone.now(),
        referrer=referrer,
        notes=notes,
    )
    member.code = new_member_code()
    member.full_clean(exclude=["referrer"], validate_unique=False, validate_constraints=False)
    for _attempt in range(_CODE_ATTEMPTS):
        try:
            # The savepoint lets a lost race on the phone or a code collision be retried or reported
            # without aborting the caller's transaction.
            with transaction.atomic():
                member.save(force_insert=True)
        except IntegrityError:
            _raise_if_phone_taken(phone)
            member.pk = None
            member.code = new_member_code()
            continue
        break
    else:
        raise ValidationError(_("Could not allocate a member code; please try again."), code="code_exhausted")
    if tags:
        member.tags.set(tags)
    if marketing_consent:
        consent_set(
            member=member,
            given=True,
            source=consent_source,
            staff=member.registered_by,
            store=store,
        )
    _profile_saved(member)
    for hook in _registered_hooks:
        hook(member)
    return member


UPDATABLE_FIELDS = (
    "phone",
    "name",
    "gender",
    "birthday",
    "email",
    "address",
    "home_store",
    "referrer",
    "notes",
)


def _refuse_erased(member: Member) -> None:
    if member.is_erased:
        raise ValidationError(
            _("This member has been erased; their record can no longer change."), code="member_erased"
        )


@transaction.atomic
def member_update(
    *,
    member: Member,
    actor,
    tags: Iterable[Tag] | None = None,
    marketing_consent: bool | None = None,
    consent_source: str = Member.ConsentSource.TABLET,
    store: Store | None = None,
    **changes,
) -> Member:
    """Change a member's profile fields; phone changes are audited (the phone is the member's key)."""
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise TypeError(f"member_update() cannot change {sorted(unknown)}")
    if "phone" in changes:
        changes["phone"] = _normalized_phone(changes["phone"])
        _raise_if_phone_taken(changes["phone"], exclude_pk=member.pk)
    if changes.get("referrer") is not None and changes["referrer"].pk == member.pk:
        raise ValidationError({"referrer": _("A member cannot refer themselves.")}, code="self_referral")
    # Compare against the stored row, locked, so two edits of one member cannot interleave and an
    # instance a form has already modified still shows its real changes.
    member = Member.objects.select_for_update().get(pk=member.pk)
    _refuse_erased(member)
    old_phone = member.phone
    changed = []
    for field, value in changes.items():
        if isinstance(value, str) and field != "notes":
            value = value.strip()
        if getattr(member, field) != value:
            setattr(member, field, value)
            changed.append(field)
    member.full_clean(exclude=["code", "referrer"], validate_unique=False, validate_constraints=False)
    if changed:
        member.save(update_fields=[*changed, "updated_at"])
    if marketing_consent is not None and consent_set(
        member=member, given=marketing_consent, source=consent_source, staff=actor, store=store
    ):
        changed.extend(["marketing_consent", "consent_at", "consent_source"])
    if tags is not None:
        member.tags.set(tags)
    if "phone" in changed:
        audit_record(
            actor=actor,
            action="member.phone_changed",
            target=member,
            data={"before": mask_phone(old_phone), "after": mask_phone(member.phone)},
        )
    if changed:
        _profile_saved(member)
    return member


@transaction.atomic
def member_set_status(*, member: Member, actor, status: str, reason: str) -> Member:
    """Freeze or unfreeze a member: frozen members cannot earn, spend or be sold to."""
    status = Member.Status(status)
    _refuse_erased(member)
    if status == Member.Status.ERASED:
        raise ValueError("members.erasure.erase_member erases a member")
    if not reason.strip():
        raise ValidationError({"reason": _("Give a reason.")}, code="reason_required")
    updated = (
        Member.objects.filter(pk=member.pk).exclude(status=status).update(status=status, updated_at=timezone.now())
    )
    if updated:
        member.status = status
        audit_record(
            actor=actor,
            action=f"member.{'frozen' if status == Member.Status.FROZEN else 'unfrozen'}",
            target=member,
            reason=reason.strip(),
        )
    return member
