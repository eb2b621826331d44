"""The offline tag the tablet keeps beside a masked phone: it never narrows a phone to fewer than 163
numbers, and it still tells a member's phone from the same phone typed with a slip."""

from collections import Counter

from members.phones import OFFLINE_TAG_MODULUS, mask_phone, offline_phone_tag

MIDDLES = [f"{n:04d}" for n in range(10_000)]


def _phone(middle: str) -> str:
    return f"+86138{middle}5678"


def test_every_tag_of_a_masked_phone_fits_at_least_163_of_its_10000_numbers():
    sizes = Counter(offline_phone_tag(_phone(middle)) for middle in MIDDLES)

    assert len(sizes) == OFFLINE_TAG_MODULUS
    assert min(sizes.values()) == 163
    assert max(sizes.values()) == 164


def test_a_slip_of_one_digit_or_a_swap_of_two_never_keeps_the_tag():
    slips = 0
    for middle in MIDDLES:
        tag = offline_phone_tag(_phone(middle))
        typed = {middle[:i] + d + middle[i + 1 :] for i in range(4) for d in "0123456789"}
        for i, j in ((0, 1), (1, 2), (2, 3), (0, 2), (1, 3)):
            swapped = list(middle)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            typed.add("".join(swapped))
        typed.discard(middle)
        slips += len(typed)
        assert all(offline_phone_tag(_phone(t)) != tag for t in typed), middle
    assert slips > 350_000


def test_the_tag_reads_only_the_digits_the_mask_hides():
    assert mask_phone("+8613800138000") == "138****8000"
    assert offline_phone_tag("+8613800138000") == 13  # 0013
    assert offline_phone_tag("+8613899998000") == 9999 % 61
    # Other countries keep their E.164 form: "+14*****2671" hides 15555.
    assert mask_phone("+14155552671") == "+14*****2671"
    assert offline_phone_tag("+14155552671") == 15555 % 61
    # A number too short to show any digit is masked whole, and tagged whole.
    assert mask_phone("+85212") == "******"
    assert offline_phone_tag("+85212") == 85212 % 61
