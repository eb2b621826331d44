"""Whoever gets a copy of the database finds no member's phone, name, email, address or birthday in it (issue 17): the
raw tables are read with SQL, not the ORM, after the demo, an import and messages queued to every member (the
outbox keeps their phones and email addresses, and texts that name them)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from campaigns.models import Message, MessageChannel
from campaigns.services.messaging import messages_queue_bulk
from members.models import Member
from members.selectors import member_by_phone
from tests.factories.campaigns import MessageTemplateFactory
from tests.members.import_support import HEADER_ZH, import_file, write_csv

pytestmark = pytest.mark.django_db

CIPHERTEXT = re.compile(r"^[A-Za-z0-9_-]{1,16}:[A-Za-z0-9+/]+=*$")
IMPORTED = [
    # phone, name, email, address, birthday
    ("13911112222", "欧阳娜娜", "ouyang.nana@example.com", "杭州市西湖区文三路478号", "1977-03-09"),
    ("13933334444", "司马光", "sima.guang@example.cn", "北京市海淀区中关村南大街5号", "1983-11-21"),
]


def text_columns() -> list[tuple[str, str]]:
    """(table, column) of every column of every table, from the database's own catalogue."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            )
            return cursor.fetchall()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = [name for (name,) in cursor.fetchall()]
        columns = []
        for table in tables:
            cursor.execute(f"PRAGMA table_info({connection.ops.quote_name(table)})")
            columns += [(table, row[1]) for row in cursor.fetchall()]
        return columns


def tables_containing(needle: str) -> list[str]:
    """Every table.column whose stored text contains `needle`."""
    quote = connection.ops.quote_name
    found = []
    with connection.cursor() as cursor:
        for table, column in text_columns():
            cursor.execute(
                f"SELECT 1 FROM {quote(table)} WHERE CAST({quote(column)} AS text) LIKE %s LIMIT 1", [f"%{needle}%"]
            )
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found


def phone_forms(e164: str) -> list[str]:
    """The ways a phone could sit in a column: E.164, its national digits, and its last eight digits
    (what survives any separator or prefix someone put in front)."""
    return [e164, e164.removeprefix("+86"), e164[-8:]]


def test_after_the_demo_and_an_import_no_phone_name_email_address_or_birthday_is_stored_in_clear(tmp_path):
    call_command("demo", members=40, stdout=StringIO(), stderr=StringIO())
    header = [*HEADER_ZH[:5], "地址", *HEADER_ZH[5:]]
    rows = [
        [phone, name, "女", birthday, email, address, "SH001", "", "", "", "", ""]
        for phone, name, email, address, birthday in IMPORTED
    ]
    result = import_file(write_csv(tmp_path / "members.csv", rows, header=header))
    assert (result.created, result.rejected) == (2, 0)
    # An SMS and an email to every member, written set-based as a campaign's are.
    for channel in (MessageChannel.SMS, MessageChannel.EMAIL):
        template = MessageTemplateFactory(channel=channel, body="{name}您好，春季焕新。")
        messages_queue_bulk(members=Member.objects.all(), template=template, key_prefix=channel, marketing=False)
    assert (
        Message.objects.filter(channel="email", recipient="").count() < Message.objects.filter(channel="email").count()
    )

    # The scan finds text stored in clear: a store's address is the shop's public sign, not personal data.
    assert tables_containing("漕溪北路88号") == ["stores_store.address"]
    for _phone, name, email, address, birthday in IMPORTED:
        assert tables_containing(name) == []
        assert tables_containing(email) == []
        assert tables_containing(address) == []
        assert tables_containing(birthday) == []
    # No phone either: not the members' (demo and imported), in any table.
    phones = list(Member.objects.exclude(phone=None).values_list("phone", flat=True))
    assert len(phones) >= 42 and "+8613911112222" in phones
    for phone in phones:
        for form in phone_forms(phone):
            assert tables_containing(form) == [], (phone, form)
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM members_member")
        assert all(CIPHERTEXT.match(value) for (value,) in cursor.fetchall())
        cursor.execute("SELECT name, email, address, birthday FROM members_member")
        stored = [value for row in cursor.fetchall() for value in row if value not in (None, "")]
    assert len(stored) >= 48 and all(CIPHERTEXT.match(value) for value in stored)
    with connection.cursor() as cursor:
        cursor.execute("SELECT recipient, subject, body FROM campaigns_message")
        stored = [value for row in cursor.fetchall() for value in row if value not in (None, "")]
    assert len(stored) >= 2 * 42 + 42 and all(CIPHERTEXT.match(value) for value in stored)
    # The template's text is the chain's own, not personal: the rendered texts are not in clear either.
    assert tables_containing("春季焕新") == ["campaigns_messagetemplate.body"]
    # And the code reads them back.
    imported = member_by_phone("+8613911112222")
    assert (imported.email, imported.address, imported.birthday.isoformat()) == IMPORTED[0][2:]
    email = Message.objects.get(member=imported, channel="email")
    assert (email.recipient, email.subject, email.body) == (
        "ouyang.nana@example.com",
        "欧阳娜娜，会员消息",
        "欧阳娜娜您好，春季焕新。",
    )
