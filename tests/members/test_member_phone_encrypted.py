"""The member's phone is encrypted at rest (issue 17): the database holds ciphertext and blind indexes of
the whole number (UNIQUE) and of its first 4 and 7 national digits, and every search by phone goes through
them (members.fields.EncryptedPhoneField, members.selectors): those two lengths serve a search of 3 to 10
digits exactly as `startswith` on the clear phone did."""

import pytest
from django.core.exceptions import FieldError
from django.db import IntegrityError, connection, transaction

from members.models import Member
from members.selectors import member_by_phone, member_by_reference, member_lookup, member_search_filter
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def stored_phone(member: Member) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM members_member WHERE id = %s", [member.pk])
        return cursor.fetchone()[0]


def found(text: str) -> set[str]:
    return set(member_lookup(text=text).values_list("phone", flat=True))


def test_the_database_holds_ciphertext_and_the_code_reads_the_phone():
    member = MemberFactory(phone="13812345678")
    raw = stored_phone(member)
    assert "13812345678" not in raw and "5678" not in raw.split(":", 1)[0]
    assert Member.objects.get(pk=member.pk).phone == "+8613812345678"
    assert member_by_phone("+8613812345678") == member
    assert member_by_reference("138 1234 5678") == member


def test_prefixes_of_3_to_10_digits_and_the_whole_number_find_the_member_as_startswith_did():
    MemberFactory(phone="13812345678")
    MemberFactory(phone="13812349999")
    MemberFactory(phone="13912345678")
    MemberFactory(phone="+85291234567")
    assert found("138") == {"+8613812345678", "+8613812349999"}
    assert found("13") == set()  # fewer than three digits: a name search, as before
    for length in range(3, 11):
        assert "+8613812345678" in found("13812345678"[:length])
    assert found("1381234567") == {"+8613812345678"}
    assert found("+86 138 1234") == {"+8613812345678", "+8613812349999"}
    assert found("13812345678") == {"+8613812345678"}
    assert found("+852 9123") == {"+85291234567"}
    assert found("+85291234567") == {"+85291234567"}


PHONES = ["13812345678", "13812349999", "13812300000", "13899999999", "13912345678", "13800138000", "+85291234567"]


def test_every_prefix_of_every_length_finds_exactly_the_phones_startswith_finds():
    # given members whose phones share prefixes of every length
    for phone in PHONES:
        MemberFactory(phone=phone)
    stored = set(Member.objects.values_list("phone", flat=True))
    # when each prefix of 3 to 10 digits (and of a foreign number's E.164 form) is searched
    for phone in PHONES:
        for length in range(3, len(phone)):
            typed = phone[:length]
            e164_prefix = typed if typed.startswith("+") else "+86" + typed
            # then exactly the members whose phone starts with it are found, through the indexes
            assert found(typed) == {p for p in stored if p.startswith(e164_prefix)}, typed


def test_only_two_prefix_lengths_are_stored_for_a_phone():
    member = MemberFactory(phone="13812345678")
    columns = [f.column for f in Member._meta.concrete_fields if f.column.startswith("phone_prefix")]
    assert columns == ["phone_prefix4_index", "phone_prefix7_index"]
    field = Member._meta.get_field("phone")
    assert Member.objects.filter(pk=member.pk, phone_prefix4_index=field.prefix_digest("1381")).exists()
    assert Member.objects.filter(pk=member.pk, phone_prefix7_index=field.prefix_digest("1381234")).exists()


@pytest.mark.parametrize(
    ("typed", "queries"), [("138", 1), ("13812", 1), ("138123", 1), ("1381234", 1), ("13812345", 2)]
)
def test_a_prefix_search_costs_one_query_or_two_beyond_the_longest_index(typed, queries, django_assert_num_queries):
    MemberFactory(phone="13812345678")
    with django_assert_num_queries(queries):
        assert found(typed) == {"+8613812345678"}


def test_the_database_keeps_phones_unique_on_the_blind_index():
    MemberFactory(phone="13812345678")
    twin = Member(phone="+8613812345678", name="王芳", code="90000000017")
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


def test_a_changed_phone_moves_its_indexes_even_with_update_fields():
    member = MemberFactory(phone="13812345678")
    member.phone = "+8613900001111"
    member.save(update_fields=["phone"])
    assert member_by_phone("+8613812345678") is None
    assert member_by_phone("+8613900001111") == member
    assert not Member.objects.filter(member_search_filter("1381234")).exists()
    assert Member.objects.filter(member_search_filter("1390000")).get() == member


def test_searching_the_phone_by_value_is_refused_rather_than_silently_finding_nobody():
    with pytest.raises(FieldError):
        list(Member.objects.filter(phone="+8613812345678"))
    with pytest.raises(FieldError):
        list(Member.objects.filter(phone__startswith="+86138"))


def test_the_database_refuses_a_phone_without_its_index():
    # given a member, when a writer outside the ORM drops the phone's index, then the database refuses it
    member = MemberFactory(phone="13812345678")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE members_member SET phone_index = NULL WHERE id = %s", [member.pk])
