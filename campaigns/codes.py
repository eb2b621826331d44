"""Coupon codes: what a member reads out or shows at the till.

A code is 12 characters of Crockford's base32 (digits and letters without I, L, O and U, so nothing
reads as another character or spells a word), grouped by four for reading aloud: `7K3M-Q9XD-2HVA`.
That is 60 random bits from the operating system's generator: codes cannot be guessed or counted
through, and collisions are so rare that the UNIQUE constraint is the only guard (the issuing
services draw again when it refuses one).

Input is read generously: lower case, spaces or no dashes, and the letters Crockford maps (O → 0,
I and L → 1) all find the same coupon.
"""

import base64
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
GROUP = 4
MAX_INPUT_LENGTH = 64

# base64's base32 alphabet mapped onto Crockford's: codes are made by the C implementation, in bulk.
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode())
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\u3000\u2010\u2011\u2012\u2013\u2014\uff0d")


def _grouped(raw: str) -> str:
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def new_coupon_code() -> str:
    return new_coupon_codes(1)[0]


def new_coupon_codes(count: int) -> list[str]:
    """`count` fresh codes, distinct among themselves (100,000 in a fraction of a second)."""
    codes: set[str] = set()
    while len(codes) < count:
        pairs = (count - len(codes) + 1) // 2
        # 15 random bytes are 24 base32 characters: two codes of 60 bits each.
        text = base64.b32encode(secrets.token_bytes(15 * pairs)).translate(_FROM_BASE32).decode()
        for start in range(0, len(text), LENGTH):
            codes.add(f"{text[start : start + 4]}-{text[start + 4 : start + 8]}-{text[start + 8 : start + 12]}")
    return list(codes)[:count]


def normalize_coupon_code(text: str) -> str:
    """The stored form of a code as someone typed or scanned it; text that is no code comes back
    trimmed and upper-cased (so it simply finds nothing)."""
    text = (text or "").strip()[:MAX_INPUT_LENGTH]
    raw = text.upper().translate(_SEPARATORS).translate(_READ_AS)
    if len(raw) == LENGTH and all(ch in ALPHABET for ch in raw):
        return _grouped(raw)
    return text.upper()


def looks_like_coupon_code(text: str) -> bool:
    raw = (text or "").strip().upper().translate(_SEPARATORS).translate(_READ_AS)
    return len(raw) == LENGTH and all(ch in ALPHABET for ch in raw)
