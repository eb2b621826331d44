"""Phone numbers: stored in E.164, read with mainland China as the default region."""

import re
import unicodedata
from contextvars import ContextVar

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_SEPARATORS = re.compile(r"[\s\-().·]")
# People type the international prefix as 00 in China; phonenumbers only reads it for some regions.
_INTERNATIONAL_00 = re.compile(r"^00(?=[1-9])")

MEMBER_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def normalize_phone(raw: str, *, region: str | None = None) -> str:
    """Return the E.164 form of a member's mobile number or raise ValidationError.

    Accepts spaces, dashes, full-width digits, +86 / 0086 / 86 prefixes. Members need a mobile
    number: it receives the SMS codes and messages, so landlines and short codes are refused.
    """
    region = region or settings.PHONE_DEFAULT_REGION
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="phone_required")
    if len(text) > 32:
        raise ValidationError(_("This phone number is too long."), code="phone_invalid")
    # NFKC turns the full-width digits of Chinese input methods into ASCII ones.
    text = _INTERNATIONAL_00.sub("+", _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)))
    if not re.fullmatch(r"\+?\d+", text):
        raise ValidationError(_("“%(phone)s” is not a phone number."), code="phone_invalid", params={"phone": raw[:32]})
    # A bare 13-digit 86… number is a mainland mobile typed with its country code but no "+".
    if region == "CN" and re.fullmatch(r"861\d{10}", text):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("“%(phone)s” is not a phone number."), code="phone_invalid", params={"phone": raw[:32]}
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(phone)s” is not a valid phone number."), code="phone_invalid", params={"phone": raw[:32]}
        )
    if phonenumbers.number_type(number) not in MEMBER_PHONE_TYPES:
        raise ValidationError(_("Enter a mobile phone number."), code="phone_not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """+8613812345678 → 13812345678; foreign numbers keep their country code."""
    if not e164:  # an erased member has no phone
        return ""
    if e164.startswith("+86"):
        return e164[3:]
    return e164


def mask_phone(e164: str) -> str:
    """138****5678: what store staff see unless they typed the full number themselves."""
    digits = national_digits(e164)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


# The tablet's offline lookup by a typed phone (stores/static/tablet/offline.js keeps the same rule).
# Any check a device can run offline can be run on all 10,000 numbers that share a masked phone, so a
# check that tells the member's phone from every other one would give the phone away, however slow or
# keyed. The device therefore keeps the masked phone and only the hidden digits' remainder modulo 61:
# about 164 numbers fit both, whatever an attacker computes, and that tag never changes, so gathering
# it again (another day, another store) tells nothing more. A prime above 11 also tells apart every
# one-digit slip and every swap of two neighbouring or alternate digits in the hidden part.
OFFLINE_TAG_MODULUS = 61


def offline_phone_tag(e164: str) -> int:
    """The hidden digits of the masked phone (mask_phone), read as a number, modulo OFFLINE_TAG_MODULUS."""
    digits = national_digits(e164)
    hidden = re.sub(r"\D", "", digits if len(digits) < 7 else digits[3:-4])
    return int(hidden) % OFFLINE_TAG_MODULUS if hidden else 0


# The full phones the current request showed, for the member access log (members.access opens the set
# for each request and writes who saw them; outside a request it is None and nothing is noted).
full_phones_shown: ContextVar[set[str] | None] = ContextVar("full_phones_shown", default=None)
# A page shows at most a few hundred members; beyond this a request is a download, audited as an export.
FULL_PHONES_NOTED_MAX = 1000


def shown_phone(e164: str | None, *, full: bool, machine: bool = False) -> str:
    """A stored phone as it leaves the system: every page, export, report, preview and API answer asks
    this, so masking is decided in one place (DESIGN §10).

    In full, a person reads a mainland number as its 11 digits (13800138000, which also fits a
    spreadsheet's General format) and any other in E.164; an integration (`machine`) gets E.164.
    Not in full: 138****5678, whatever the reader.
    """
    if not e164:
        return ""
    if not full:
        return mask_phone(e164)
    noted = full_phones_shown.get()
    if noted is not None and len(noted) < FULL_PHONES_NOTED_MAX:
        noted.add(e164)
    return e164 if machine else national_digits(e164)


def sees_full_phones(user) -> bool:
    """Whether `user`'s role may read full phone numbers (the HQ admin; not the marketer, not store staff)."""
    # Imported here: members.models imports this module while the app registry is loading.
    from stores.permissions import staff_can
    from stores.roles import Action

    return staff_can(user, Action.VIEW_FULL_PHONE)


def phone_for(user, e164: str | None) -> str:
    """The phone as `user` may read it on a back-office page, an export or a report."""
    return shown_phone(e164, full=sees_full_phones(user))


def phone_search_prefix(text: str) -> str | None:
    """The stored-phone prefix for a partial number typed in a search box, or None if not one."""
    cleaned = _INTERNATIONAL_00.sub("+", _SEPARATORS.sub("", unicodedata.normalize("NFKC", text.strip())))
    if re.fullmatch(r"\+\d{2,15}", cleaned):
        return cleaned
    if re.fullmatch(r"1\d{2,10}", cleaned):
        return "+86" + cleaned
    return None


# --- Fast path for imports -----------------------------------------------------------------------
# normalize_phone() costs ~20 µs a number (libphonenumber); an import of a million rows would spend
# 20 s on it alone. Nearly every row of a Chinese member file is a mainland mobile typed as digits
# with spaces or dashes and perhaps +86 / 0086 / 86 in front. For those, the E.164 form is "+86" and
# the 11 digits, and whether libphonenumber accepts them as a mobile depends only on the first five
# digits (its CN mobile pattern, e.g. 1740[0-5]…, 1(?:[38]\d|4[57]|…)\d{8}). So the answer is asked
# of normalize_phone() once per five-digit prefix and remembered; every other input, and every
# prefix it refuses, goes through normalize_phone() itself, which also gives the error message.
# tests/members/test_import_phones.py proves the two agree (every prefix, and hypothesis).
_FAST_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_FAST_PREFIX_DIGITS = 5
_mobile_prefix_ok: dict[str, bool] = {}


def _mobile_prefix_accepted(digits: str) -> bool:
    prefix = digits[:_FAST_PREFIX_DIGITS]
    known = _mobile_prefix_ok.get(prefix)
    if known is None:
        try:
            known = normalize_phone("+86" + digits, region="CN") == "+86" + digits
        except ValidationError:
            known = False
        _mobile_prefix_ok[prefix] = known
    return known


def normalize_phone_fast(raw: str, *, region: str | None = None) -> str:
    """Exactly normalize_phone(raw, region=region), faster for mainland mobiles typed as digits, spaces
    and dashes (and +86, 0086 or 86 before them)."""
    region = region or settings.PHONE_DEFAULT_REGION
    if region == "CN" and raw:
        text = raw.strip()
        if len(text) <= 32:
            match = _FAST_MOBILE.fullmatch(text.replace(" ", "").replace("-", ""))
            if match is not None:
                digits = match.group(1)
                if _mobile_prefix_accepted(digits):
                    return "+86" + digits
    return normalize_phone(raw, region=region)
