from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from members.codes import is_member_code, member_code_from_qr, member_qr_payload, new_member_code


def test_new_member_codes_are_ten_digits_with_a_valid_check_digit():
    for _ in range(200):
        code = new_member_code()
        assert len(code) == 10 and code.startswith("9")
        assert is_member_code(code)


def test_a_mistyped_digit_is_not_a_member_code():
    code = new_member_code()
    wrong = code[:4] + str((int(code[4]) + 1) % 10) + code[5:]
    assert not is_member_code(wrong)


def test_a_mobile_number_is_never_taken_for_a_member_code():
    assert not is_member_code("13812345678")


def test_a_fresh_qr_payload_gives_back_the_member_code():
    code = new_member_code()
    assert member_code_from_qr(member_qr_payload(code)) == code


def test_a_qr_payload_older_than_ten_minutes_is_refused():
    code = new_member_code()
    payload = member_qr_payload(code, at=timezone.now() - timedelta(minutes=11))
    with pytest.raises(ValidationError) as error:
        member_code_from_qr(payload)
    assert error.value.code == "qr_expired"


@pytest.mark.parametrize("tamper", ["other-code", "signature", "garbage"])
def test_a_forged_qr_payload_is_refused(tamper):
    code = new_member_code()
    prefix, _code, minute, signature = member_qr_payload(code).split(".")
    payload = {
        "other-code": f"{prefix}.{new_member_code()}.{minute}.{signature}",
        "signature": f"{prefix}.{code}.{minute}.{'0' * 16}",
        "garbage": "https://example.com/?q=1",
    }[tamper]
    with pytest.raises(ValidationError) as error:
        member_code_from_qr(payload)
    assert error.value.code == "qr_invalid"
