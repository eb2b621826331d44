"""Many outbox rows at once, once per key: what a campaign to 100,000 members writes.

Each batch of rendered rows goes into a temporary table (COPY on PostgreSQL, executemany on SQLite),
then one INSERT … SELECT … ON CONFLICT (key) DO NOTHING RETURNING status moves it into the outbox. A
key already there (the same campaign launched again, or a second worker racing the first) is skipped
by the database itself, and RETURNING tells exactly which rows this call wrote.

The recipient, subject and body are encrypted at rest (members.fields): the SQL does not go through the
fields, so each value is sealed here, once, before it is staged; the temporary table never holds them
in clear either.

The columns every row of a call shares (template, channel, purpose, when, campaign …) are parameters
of the INSERT rather than columns of the temporary table.
"""

import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from django.db import connection

from campaigns.models import Message

# The per-member columns staged for each row, in this order.
STAGED = (("member_id", "bigint"), ("recipient", "text"), ("subject", "text"), ("body", "text"), ("status", "text"))
STAGED_KEY = ("msg_key", "text")
SEALED = ("recipient", "subject", "body")


@dataclass(frozen=True)
class SharedColumns:
    template_id: int | None
    channel: str
    purpose: str
    send_after: datetime
    quiet_start: time | None
    quiet_end: time | None
    campaign_id: int | None
    automation_id: int | None
    created_at: datetime


class BulkWriter:
    """One bulk queue's temporary table; use as a context manager (the table is dropped at the end)."""

    def __init__(self, shared: SharedColumns):
        self.shared = shared
        self.table = f"message_stage_{secrets.token_hex(4)}"
        self.is_postgresql = connection.vendor == "postgresql"
        self.written: Counter[str] = Counter()
        self._seal_recipient, self._seal_subject, self._seal_body = (
            Message._meta.get_field(name).seal for name in SEALED
        )

    def __enter__(self) -> "BulkWriter":
        columns = ", ".join(f"{name} {sql}" for name, sql in (*STAGED, STAGED_KEY))
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMP TABLE {self.table} ({columns})")
        return self

    def __exit__(self, *exc) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def write(self, rows: Sequence[tuple]) -> Counter[str]:
        """Rows of (member_id, recipient, subject, body, status, key), in clear; returns the statuses written."""
        if not rows:
            return Counter()
        rows = self._sealed(rows)
        names = ", ".join(name for name, _sql in (*STAGED, STAGED_KEY))
        with connection.cursor() as cursor:
            if self.is_postgresql:
                with cursor.copy(f"COPY {self.table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.execute(f"DELETE FROM {self.table}")
                marks = ", ".join("%s" for _ in (*STAGED, STAGED_KEY))
                cursor.executemany(f"INSERT INTO {self.table} ({names}) VALUES ({marks})", rows)
            cursor.execute(*self._insert_sql())
            written = Counter(status for (status,) in cursor.fetchall())
            if self.is_postgresql:
                cursor.execute(f"TRUNCATE {self.table}")
        self.written.update(written)
        return written

    def _sealed(self, rows: Sequence[tuple]) -> list[tuple]:
        seal_recipient, seal_subject, seal_body = self._seal_recipient, self._seal_subject, self._seal_body
        return [
            (member_id, seal_recipient(recipient), seal_subject(subject), seal_body(body), status, key)
            for member_id, recipient, subject, body, status, key in rows
        ]

    def _insert_sql(self) -> tuple[str, list]:
        q = connection.ops.quote_name
        ops = connection.ops
        shared = self.shared
        constant = {
            "template_id": shared.template_id,
            "channel": shared.channel,
            "purpose": shared.purpose,
            "send_after": ops.adapt_datetimefield_value(shared.send_after),
            "quiet_start": ops.adapt_timefield_value(shared.quiet_start),
            "quiet_end": ops.adapt_timefield_value(shared.quiet_end),
            "attempts": 0,
            "error": "",
            "provider_id": "",
            "claim_token": "",
            "campaign_id": shared.campaign_id,
            "automation_id": shared.automation_id,
            "created_at": ops.adapt_datetimefield_value(shared.created_at),
        }
        staged = [name for name, _sql in STAGED]
        target = ", ".join(q(name) for name in (*staged, "key", *constant))
        # Typed placeholders: PostgreSQL cannot infer a type for a bare NULL parameter in a SELECT list.
        casts = {
            "template_id": "bigint",
            "send_after": "timestamptz",
            "quiet_start": "time",
            "quiet_end": "time",
            "attempts": "smallint",
            "campaign_id": "bigint",
            "automation_id": "bigint",
            "created_at": "timestamptz",
        }
        placeholders = [
            f"CAST(%s AS {casts[name]})" if self.is_postgresql and name in casts else "%s" for name in constant
        ]
        select = ", ".join([*(f"s.{name}" for name in staged), "s.msg_key", *placeholders])
        sql = (
            f"INSERT INTO {q(Message._meta.db_table)} ({target}) "
            f"SELECT {select} FROM {self.table} s WHERE true "
            f"ON CONFLICT ({q('key')}) DO NOTHING RETURNING {q('status')}"
        )
        return sql, list(constant.values())
