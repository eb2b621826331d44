"""The import's fast phone path gives exactly normalize_phone()'s answer; bulk member codes are valid."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from members.codes import is_member_code, new_member_codes
from members.phones import normalize_phone, normalize_phone_fast


def outcome(normalize, raw: str):
    try:
        return normalize(raw)
    except ValidationError as error:
        return ("error", error.code, error.messages)


def test_every_five_digit_mobile_prefix_gets_the_same_answer():
    # The fast path asks libphonenumber once per five-digit prefix: prove the answer never depends on
    # the six digits after it, for every prefix the fast path takes (130…–199…).
    for prefix in range(13000, 20000):
        for suffix in ("000000", "999999", "123456"):
            raw = f"{prefix}{suffix}"
            assert outcome(normalize_phone_fast, raw) == outcome(normalize_phone, raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+86 138-1234-5678",
        "+8613812345678",
        "8613812345678",
        "008613812345678",
        "0086 138 1234 5678",
        "+0086 13812345678",
        "+86-+86-13812345678",
        "86 86 13812345678",
        "(+86) 138.1234.5678",
        "１３８１２３４５６７８",
        "15412345678",
        "17400123456",
        "17406123456",
        "1381234567",
        "138123456789",
        "1 3 8 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7",
        "+852 5123 4567",
        "021-64281234",
        "",
        "   ",
        "abc",
        "٣٨١٢٣٤٥٦٧٨١",
    ],
)
def test_the_fast_path_and_normalize_phone_agree(raw):
    assert outcome(normalize_phone_fast, raw) == outcome(normalize_phone, raw)


_prefixes = st.sampled_from(["", "+86", "86", "0086", "+86 ", "0086-", "+", "00", "+0086", "8 6"])
_separators = st.sampled_from(["", " ", "-", "  ", " - ", "\t", "."])


@st.composite
def typed_mobiles(draw):
    digits = draw(st.text(alphabet="0123456789", min_size=9, max_size=13))
    if draw(st.booleans()):
        digits = "1" + draw(st.sampled_from("3456789")) + digits[2:11]
    parts, rest = [], digits
    while rest:
        cut = draw(st.integers(min_value=1, max_value=len(rest)))
        parts.append(rest[:cut])
        rest = rest[cut:]
    body = draw(_separators).join(parts)
    return draw(st.sampled_from(["", " "])) + draw(_prefixes) + body + draw(st.sampled_from(["", " ", "\n"]))


@settings(max_examples=3000, deadline=None)
@given(typed_mobiles())
def test_any_way_of_typing_digits_gets_the_same_answer(raw):
    assert outcome(normalize_phone_fast, raw) == outcome(normalize_phone, raw)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="0123456789+- ()١６", max_size=40))
def test_any_string_of_phone_characters_gets_the_same_answer(raw):
    assert outcome(normalize_phone_fast, raw) == outcome(normalize_phone, raw)


def test_bulk_member_codes_are_valid_codes():
    codes = list(new_member_codes(20_000))
    assert len(codes) == 20_000
    assert all(is_member_code(code) for code in codes)
    # Eight random digits: a few collisions in 20,000 at most, and the caller redraws them.
    assert len(set(codes)) > 19_990
