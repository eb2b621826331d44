"""A member's email, address and birthday are encrypted in the database and plain to the code that reads
them; the birthday's month and day stay in clear for birthday automations; `rotate_member_keys` moves
every value to the current key (members.fields, members.crypto)."""

import io
from datetime import date

import pytest
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection

from members.management.commands.rotate_member_keys import rotate_batch
from members.models import Member
from tests.factories import MemberFactory
from tests.member_keys import a_key

pytestmark = pytest.mark.django_db


def stored(member: Member) -> dict:
    """The member's row as the database holds it (SQL, not the ORM, which would decrypt)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT email, address, birthday, birth_month, birth_day FROM members_member WHERE id = %s", [member.pk]
        )
        return dict(zip(["email", "address", "birthday", "birth_month", "birth_day"], cursor.fetchone(), strict=True))


def test_the_database_holds_ciphertext_and_the_code_reads_the_values(keys):
    member = MemberFactory(
        email="wang.fang@example.com", address="上海市徐汇区漕溪北路88号", birthday=date(1990, 5, 17)
    )

    row = stored(member)
    again = Member.objects.get(pk=member.pk)

    assert all(row[f].startswith("k1:") for f in ("email", "address", "birthday"))
    assert "wang" not in str(row) and "漕溪" not in str(row) and "1990" not in str(row)
    assert (row["birth_month"], row["birth_day"]) == (5, 17)
    assert (again.email, again.address, again.birthday) == (
        "wang.fang@example.com",
        "上海市徐汇区漕溪北路88号",
        date(1990, 5, 17),
    )
    assert list(Member.objects.filter(pk=member.pk).values_list("email", "birthday")) == [
        ("wang.fang@example.com", date(1990, 5, 17))
    ]


def test_empty_values_stay_empty_and_can_still_be_filtered(keys):
    member = MemberFactory(email="", address="", birthday=None)

    assert stored(member) == {"email": "", "address": "", "birthday": None, "birth_month": None, "birth_day": None}
    assert Member.objects.filter(email="", birthday__isnull=True).get() == member


def test_the_month_and_day_follow_the_birthday_on_every_kind_of_save(keys):
    member = MemberFactory(birthday=date(1990, 5, 17))

    member.birthday = date(1988, 2, 29)
    member.save(update_fields=["birthday"])
    assert (stored(member)["birth_month"], stored(member)["birth_day"]) == (2, 29)
    member.birthday = None
    member.save()
    assert (stored(member)["birth_month"], stored(member)["birth_day"]) == (None, None)
    [bulk] = Member.objects.bulk_create([MemberFactory.build(code="900000001", birthday=date(2001, 12, 3))])
    assert (stored(bulk)["birth_month"], stored(bulk)["birth_day"]) == (12, 3)


def test_searching_an_encrypted_value_is_refused_rather_than_silently_finding_nobody(keys):
    with pytest.raises(FieldError, match="encrypted"):
        Member.objects.filter(email="wang.fang@example.com").exists()
    with pytest.raises(FieldError, match="encrypted"):
        Member.objects.filter(birthday__month=5).exists()
    with pytest.raises(FieldError, match="encrypted"):
        Member.objects.filter(address__startswith="上海").exists()


def test_rotation_moves_every_value_to_the_new_key_and_a_second_run_has_nothing_to_do(keys):
    members = [
        MemberFactory(email=f"m{i}@example.com", address=f"地址{i}", birthday=date(1990, 1, i + 1)) for i in range(5)
    ]
    MemberFactory(email="", address="", birthday=None)
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')},k1:{a_key(b'a')}"
    out, again = io.StringIO(), io.StringIO()

    call_command("rotate_member_keys", "--batch-size", "2", stdout=out, stderr=io.StringIO())
    call_command("rotate_member_keys", stdout=again, stderr=io.StringIO())

    assert "Re-encrypted 27 values in 6 rows under the key 'k2'; 0 rows still hold" in out.getvalue()
    assert "0 rows hold values under a key older than 'k2'; nothing to do." in again.getvalue()
    for i, member in enumerate(members):
        assert all(stored(member)[f].startswith("k2:") for f in ("email", "address", "birthday"))
        member.refresh_from_db()
        assert (member.email, member.address, member.birthday) == (
            f"m{i}@example.com",
            f"地址{i}",
            date(1990, 1, i + 1),
        )
    # The old key is no longer needed.
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')}"
    assert Member.objects.get(pk=members[0].pk).email == "m0@example.com"


def test_an_interrupted_rotation_resumes_where_values_are_still_under_the_old_key(keys):
    first, second, third = (MemberFactory(email=f"m{i}@example.com") for i in range(3))
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')},k1:{a_key(b'a')}"
    fields = [Member._meta.get_field(name) for name in ("phone", "name", "email", "address", "birthday")]

    rotate_batch("members_member", "id", fields, after=0, size=1)  # then the process is stopped
    assert stored(first)["email"].startswith("k2:") and stored(second)["email"].startswith("k1:")
    out = io.StringIO()
    call_command("rotate_member_keys", stdout=out, stderr=io.StringIO())

    assert "Re-encrypted 6 values in 2 rows" in out.getvalue()  # their phones, names and emails
    assert stored(third)["email"].startswith("k2:")


def test_a_value_no_key_opens_is_reported_and_left_while_the_others_are_rotated(keys):
    good = MemberFactory(email="good@example.com")
    keys.MEMBER_DATA_KEYS = f"k0:{a_key(b'z')}"
    lost = MemberFactory(email="lost@example.com")  # under a key that will be gone
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')},k1:{a_key(b'a')}"
    errors = io.StringIO()

    with pytest.raises(CommandError, match="3 values could not be decrypted"):
        call_command("rotate_member_keys", stdout=io.StringIO(), stderr=errors)

    assert stored(good)["email"].startswith("k2:") and stored(lost)["email"].startswith(
        "k0:"
    )  # and the phone and the name
    assert f"members_member {lost.pk}" in errors.getvalue() and "'k0'" in errors.getvalue()


def test_a_dry_run_counts_and_changes_nothing(keys):
    member = MemberFactory(email="m@example.com")
    keys.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')},k1:{a_key(b'a')}"
    out = io.StringIO()

    call_command("rotate_member_keys", "--dry-run", stdout=out)

    assert "1 rows hold values under a key older than 'k2' (dry run" in out.getvalue()
    assert stored(member)["email"].startswith("k1:")


def test_the_name_is_stored_encrypted_and_found_by_its_first_characters_or_whole(keys):
    from members.selectors import member_lookup

    ouyang = MemberFactory(name="欧阳娜娜")
    MemberFactory(name="欧阳修")
    MemberFactory(name="王芳")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM members_member WHERE id = %s", [ouyang.pk])
        (stored_name,) = cursor.fetchone()

    assert stored_name.startswith("k1:") and "欧阳" not in stored_name
    assert Member.objects.get(pk=ouyang.pk).name == "欧阳娜娜"
    found = {
        text: sorted(m.name for m in member_lookup(text=text))
        for text in ("欧", "欧阳", "欧阳娜", "欧阳娜娜", "王芳", "阳")
    }
    assert found == {
        "欧": ["欧阳修", "欧阳娜娜"],
        "欧阳": ["欧阳修", "欧阳娜娜"],
        "欧阳娜": ["欧阳娜娜"],
        "欧阳娜娜": ["欧阳娜娜"],
        "王芳": ["王芳"],
        "阳": [],
    }


def test_a_renamed_member_is_found_by_the_new_name_only(keys):
    from members.selectors import member_lookup

    member = MemberFactory(name="王芳")
    member.name = "李娜"
    member.save(update_fields=["name"])

    assert list(member_lookup(text="李")) == [member]
    assert list(member_lookup(text="王")) == []
