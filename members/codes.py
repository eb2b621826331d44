"""Member codes and the QR payload a member shows at the till.

A member code is 10 digits: "9", eight random digits and a Luhn check digit. It never starts with 1,
so a till can tell it from a mainland mobile number, and the check digit catches a mistyped digit.

The QR payload is the code signed with the project's secret: `MBR1.<code>.<minute>.<signature>`.
A member app shows a fresh one every minute, and the till accepts it for QR_MAX_AGE_MINUTES, so a
screenshot of someone else's code stops working soon after it was taken.
"""

import hashlib
import hmac
import re
import secrets
from array import array
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MEMBER_CODE_RE = re.compile(r"^9\d{9}$")
QR_PREFIX = "MBR1"
QR_MAX_AGE_MINUTES = 10


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_member_code(rng=None) -> str:
    body = "9" + "".join(str((rng or secrets.SystemRandom()).randrange(10)) for _ in range(8))
    return body + luhn_check_digit(body)


def _luhn_block_sums() -> list[int]:
    """The Luhn sum of each four-digit block whose rightmost digit is doubled."""
    sums = []
    for block in range(10_000):
        total = 0
        for i, ch in enumerate(reversed(f"{block:04d}")):
            d = int(ch) * (2 if i % 2 == 0 else 1)
            total += d - 9 if d > 9 else d
        sums.append(total)
    return sums


_block_sums: list[int] = []


def new_member_codes(count: int) -> Iterator[str]:
    """`count` fresh member codes as new_member_code() makes them, at about a microsecond each (imports).

    The body is "9" and eight random digits. Both four-digit blocks of the random part start at an even
    distance from the body's right end, so each one's Luhn sum is a table look-up; the leading 9 sits at
    distance 8 and is doubled (18 → 9). Codes can collide with each other or with existing members, as
    new_member_code()'s can: the caller checks.
    """
    if not _block_sums:
        _block_sums.extend(_luhn_block_sums())
    sums = _block_sums
    made = 0
    while made < count:
        # Random 32-bit numbers from the OS in bulk; those at or above 42 × 10^8 are dropped, so every
        # eight-digit number stays equally likely.
        for number in array("I", secrets.token_bytes(4 * min(count - made + 16, 4096))):
            if number >= 4_200_000_000 or made >= count:
                continue
            number %= 100_000_000
            total = 9 + sums[number % 10_000] + sums[number // 10_000]
            made += 1
            yield f"9{number:08d}{(10 - total % 10) % 10}"


def is_member_code(text: str) -> bool:
    text = text.strip()
    return bool(MEMBER_CODE_RE.match(text)) and luhn_check_digit(text[:-1]) == text[-1]


def _signature(code: str, minute: int) -> str:
    key = hashlib.sha256(("member-qr:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, f"{code}.{minute}".encode(), hashlib.sha256).hexdigest()[:16]


def member_qr_payload(code: str, *, at: datetime | None = None) -> str:
    minute = int((at or timezone.now()).timestamp() // 60)
    return f"{QR_PREFIX}.{code}.{minute}.{_signature(code, minute)}"


def member_code_from_qr(payload: str, *, now: datetime | None = None) -> str:
    """The member code inside a scanned QR payload, or ValidationError if forged or too old."""
    parts = payload.strip().split(".")
    if len(parts) != 4 or parts[0] != QR_PREFIX or not parts[2].isdigit():
        raise ValidationError(_("This QR code is not a member code."), code="qr_invalid")
    _prefix, code, minute_text, signature = parts
    minute = int(minute_text)
    if not hmac.compare_digest(signature, _signature(code, minute)):
        raise ValidationError(_("This QR code is not a member code."), code="qr_invalid")
    age = int((now or timezone.now()).timestamp() // 60) - minute
    # One minute of clock skew either way between the member's phone and the server is tolerated.
    if age > QR_MAX_AGE_MINUTES or age < -1:
        raise ValidationError(_("This QR code has expired; ask the member to refresh it."), code="qr_expired")
    return code
