import pytest
from django.core.exceptions import ValidationError

from members.phones import mask_phone, normalize_phone, phone_search_prefix


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "8613812345678",
        "008613812345678",
        "(+86) 138.1234.5678",
        "１３８１２３４５６７８",  # full-width digits from a Chinese input method
    ],
)
def test_every_way_of_typing_a_mainland_mobile_gives_the_same_e164(typed):
    assert normalize_phone(typed) == "+8613812345678"


def test_a_hong_kong_mobile_keeps_its_own_country_code():
    assert normalize_phone("+852 5123 4567") == "+85251234567"


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "phone_required"),
        ("   ", "phone_required"),
        ("12345", "phone_invalid"),
        ("1381234567", "phone_invalid"),  # one digit short
        ("138123456789", "phone_invalid"),  # one digit long
        ("abcdefghijk", "phone_invalid"),
        ("'; DROP TABLE members_member;--", "phone_invalid"),
        ("1" * 5000, "phone_invalid"),
        ("021-64281234", "phone_not_mobile"),  # a Shanghai landline cannot receive SMS
        ("📱13812345678", "phone_invalid"),
    ],
)
def test_bad_phones_are_refused_with_a_reason(typed, code):
    with pytest.raises(ValidationError) as error:
        normalize_phone(typed)
    assert error.value.code == code


def test_store_staff_see_the_middle_of_a_phone_masked():
    assert mask_phone("+8613812345678") == "138****5678"


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [("138", "+86138"), ("1381234", "+861381234"), ("+85251", "+85251"), ("王", None), ("12", None)],
)
def test_a_partial_number_becomes_a_stored_phone_prefix(typed, prefix):
    assert phone_search_prefix(typed) == prefix
