"""Coupon codes: readable, unguessable, and found however they are typed."""

import re

from campaigns.codes import ALPHABET, looks_like_coupon_code, new_coupon_code, new_coupon_codes, normalize_coupon_code

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def test_a_code_is_twelve_crockford_characters_in_three_groups_of_four():
    code = new_coupon_code()

    assert CODE.match(code), code
    assert not set(code) & set("ILOU")


def test_the_alphabet_has_no_letters_that_read_as_others():
    assert len(ALPHABET) == 32
    assert not set(ALPHABET) & set("ILOU")


def test_a_hundred_thousand_codes_are_distinct_and_well_spread():
    codes = new_coupon_codes(100_000)

    assert len(set(codes)) == 100_000
    # Each position takes every character of the alphabet: nothing predictable to count through.
    assert all(len({code.replace("-", "")[i] for code in codes}) == 32 for i in range(12))


def test_a_code_is_found_however_it_is_typed():
    code = "7K3M-Q9XD-2HVA"

    for typed in ["7k3m-q9xd-2hva", "7K3MQ9XD2HVA", " 7K3M Q9XD 2HVA ", "7K3M－Q9XD－2HVA", "7K3M_Q9XD_2HVA"]:
        assert normalize_coupon_code(typed) == code, typed


def test_letters_read_as_digits_find_the_code_crockford_decodes():
    assert normalize_coupon_code("OK3M-Q9XD-2HVI") == "0K3M-Q9XD-2HV1"
    assert normalize_coupon_code("LK3M-Q9XD-2HVA") == "1K3M-Q9XD-2HVA"


def test_text_that_is_no_code_comes_back_trimmed_and_finds_nothing():
    assert normalize_coupon_code(" welcome10 ") == "WELCOME10"
    assert not looks_like_coupon_code("13800138000")
    assert looks_like_coupon_code("7k3mq9xd2hva")
    assert len(normalize_coupon_code("x" * 5000)) == 64
