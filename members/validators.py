import unicodedata
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.phones import normalize_phone

# Characters that real names use besides letters: the middle dot of transliterated names
# (阿依古丽·买买提), spaces, apostrophes and hyphens of foreign names.
_NAME_PUNCTUATION = set("·•‧・' ’-.")


def validate_member_name(value: str) -> None:
    """Names appear on receipts, SMS and thermal printers: letters of any script only.

    Digits, emoji, symbols and control characters are refused with a message that says so, which
    also keeps SQL-ish or script-ish text ("'); DROP TABLE", "<script>") out of names.
    """
    if not value.strip():
        raise ValidationError(_("Enter the member's name."), code="name_required")
    for ch in value:
        category = unicodedata.category(ch)
        if category[0] in "LM" or ch in _NAME_PUNCTUATION:
            continue
        raise ValidationError(
            _("A name may contain letters of any language only; “%(char)s” is not allowed."),
            code="name_invalid_character",
            params={"char": ch},
        )


def validate_birthday(value: date | None) -> None:
    if value is None:
        return
    if value > timezone.localdate():
        raise ValidationError(_("The birthday cannot be in the future."), code="birthday_in_future")
    if value.year < 1900:
        raise ValidationError(_("Enter a birthday after 1900."), code="birthday_too_old")


def validate_e164_phone(value: str) -> None:
    if normalize_phone(value) != value:
        raise ValidationError(_("Phone numbers are stored in E.164 form, e.g. +8613812345678."), code="phone_invalid")
