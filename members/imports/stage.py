"""The import's staging table: validated rows land here in bulk, then SQL checks and writes them.

PostgreSQL: a TEMP table filled with COPY (psycopg's copy.write_row, streamed as rows are read).
SQLite (the embedded mode): a TEMP table filled with executemany in batches. The SQL that follows is
written once for both, with the few differences (IS DISTINCT FROM, JSON arrays) behind methods here.

The table lives on the import's connection only and is dropped at the end of the import.
"""

import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import date, datetime
from decimal import Decimal

from django.db import DatabaseError, connections, transaction

from members.imports.columns import ImportColumn

_PG_TYPES = {
    "text": "text",
    "digest": "uuid",  # a blind index (members.models.blind_index_field)
    "quantity": "numeric(10, 3)",
    "date": "date",
    "datetime": "timestamptz",
    "integer": "integer",
    "bigint": "bigint",
    "money": "numeric(12, 2)",
}
# Declared types give SQLite the column affinities Django's own tables have.
_SQLITE_TYPES = {
    "text": "text",
    "digest": "text",
    "quantity": "decimal",
    "date": "date",
    "datetime": "datetime",
    "integer": "integer",
    "bigint": "integer",
    "money": "decimal",
}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
SQLITE_BATCH = 5_000


class Stage:
    """One import's staging tables: `table` (a row per file row) and `tags_table` (line, tag name).

    A staged row is written as: the line, its problem, the import's own leading values (`fixed`, e.g.
    a member code drawn for a new member), then the columns' values. `state` columns are filled by
    the checks and writes in SQL (which member a row is, whether it creates one …).
    """

    MEMBER_STATE = (
        ("member_id", "bigint"),
        ("created", "boolean NOT NULL DEFAULT FALSE"),
        ("touched", "boolean NOT NULL DEFAULT FALSE"),
        ("member_changed", "boolean NOT NULL DEFAULT FALSE"),
    )

    def __init__(
        self,
        columns: Sequence[ImportColumn],
        *,
        using: str = "default",
        prefix: str = "member_import",
        fixed: Sequence[tuple[str, str]] = (("new_code", "text"),),
        state: Sequence[tuple[str, str]] = MEMBER_STATE,
    ):
        self.connection = connections[using]
        self.vendor = self.connection.vendor
        if self.vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"imports support PostgreSQL and SQLite, not {self.vendor}")
        token = secrets.token_hex(4)
        self.table = f"{prefix}_{token}"
        self.tags_table = f"{prefix}_tags_{token}"
        self.columns = list(columns)
        self.fixed = list(fixed)
        self.state = list(state)
        self.write_columns = ["line", "error", *(name for name, _type in self.fixed), *(c.key for c in self.columns)]

    def positions(self) -> dict[str, int]:
        """Where each column's value goes in a written row."""
        return {name: i for i, name in enumerate(self.write_columns)}

    @property
    def is_postgresql(self) -> bool:
        return self.vendor == "postgresql"

    # --- set-up ----------------------------------------------------------------------------------

    def tune(self) -> None:
        """Session settings for one big set-based transaction (PostgreSQL; SET LOCAL and SET CONSTRAINTS
        end with it).

        JIT compilation costs a quarter of a second per statement whose estimate looks large, which
        every statement here does; sorts and hashes over a million staged rows want more than 4 MB;
        the staging tables want more local buffers than 8 MB (a session can set that only before its
        first temporary table, hence the savepoint).
        """
        if not self.is_postgresql:
            return
        # Django declares foreign keys DEFERRABLE INITIALLY DEFERRED: checked at commit, each row's check
        # fetched again from the queue of deferred events, which costs four times what checking at the
        # end of each statement costs (2.4 s against 0.5 s for 100,000 members). Every reference an
        # import writes exists by the end of its statement (a referrer new in the same file included).
        self.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.execute("SET LOCAL jit = off")
        self.execute("SET LOCAL work_mem = '64MB'")
        try:
            with transaction.atomic(using=self.connection.alias):
                self.execute("SET temp_buffers = '512MB'")
        except DatabaseError:
            pass

    def create(self) -> None:
        types = _PG_TYPES if self.is_postgresql else _SQLITE_TYPES
        definitions = ", ".join(
            [
                "line integer NOT NULL",
                "error text",
                *(f"{name} {types.get(sql, sql)}" for name, sql in (*self.fixed, *self.state)),
                *(f"{c.key} {types[c.sql_type]}" for c in self.columns),
            ]
        )
        self.execute(f"CREATE TEMP TABLE {self.table} ({definitions})")
        self.execute(f"CREATE TEMP TABLE {self.tags_table} (line integer NOT NULL, name text NOT NULL)")

    def index(self, *sqlite_columns: str) -> None:
        """Statistics once the rows are in. On PostgreSQL the staging table gets no index: every
        statement over it is set-based (hash joins), and its rows are updated a few times (ids, flags),
        which is much cheaper without index entries to add for each new row version. SQLite joins by
        nested loops: it gets indexes on the line and on `sqlite_columns` (the phone by default)."""
        if not self.is_postgresql:
            self.execute(f"CREATE UNIQUE INDEX {self.table}_line ON {self.table} (line)")
            for column in sqlite_columns or ("phone",):
                self.execute(f"CREATE INDEX {self.table}_{column} ON {self.table} ({column})")
        self.execute(f"ANALYZE {self.table}")

    def index_tags(self) -> None:
        self.execute(f"CREATE INDEX {self.tags_table}_line ON {self.tags_table} (line, name)")
        self.execute(f"ANALYZE {self.tags_table}")

    def analyze(self, table: str | None = None, columns: Sequence[str] = ()) -> None:
        """Fresh statistics, so the planner hashes a million rows instead of looping over them; of only
        `columns` (PostgreSQL), when the rest are not what the statements that follow join or filter on."""
        listed = f" ({', '.join(columns)})" if columns and self.is_postgresql else ""
        self.execute(f"ANALYZE {table or self.table}{listed}")

    def drop(self) -> None:
        self.execute(f"DROP TABLE IF EXISTS {self.tags_table}")
        self.execute(f"DROP TABLE IF EXISTS {self.table}")

    # --- loading ---------------------------------------------------------------------------------

    def writer(self) -> "_CopyWriter | _BatchWriter":
        if self.is_postgresql:
            return _CopyWriter(self)
        return _BatchWriter(self)

    def explode_tags(self) -> None:
        """One (line, name) row per tag of a row, from the JSON array the tags column holds."""
        if self.is_postgresql:
            source = f"{self.table} s CROSS JOIN LATERAL json_array_elements_text(s.tags::json) AS j(value)"
        else:
            source = f"{self.table} s, json_each(s.tags) j"
        self.execute(
            f"INSERT INTO {self.tags_table} (line, name) SELECT s.line, j.value FROM {source} "
            f"WHERE s.tags IS NOT NULL AND s.error IS NULL"
        )

    # --- SQL helpers -----------------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence | None = None) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def fetchone(self, sql: str, params: Sequence | None = None) -> tuple | None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def fetchall(self, sql: str, params: Sequence | None = None) -> list[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def iter_errors(self) -> Iterator[tuple[int, str]]:
        """(line, reason) of every bad row in line order, streamed."""
        yield from self.iter_rows(f"SELECT line, error FROM {self.table} WHERE error IS NOT NULL ORDER BY line")

    def iter_rows(self, sql: str, params: Sequence | None = None, *, batch: int = 5_000) -> Iterator[tuple]:
        """The rows of a query, streamed (a server-side cursor on PostgreSQL). Between rows the caller
        may run other statements on the connection (insert_rows), as long as they finish."""
        if self.is_postgresql:
            self.connection.ensure_connection()
            with self.connection.connection.cursor(name=f"{self.table}_{secrets.token_hex(3)}") as cursor:
                cursor.itersize = batch
                cursor.execute(sql, params)
                yield from cursor
            return
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            while page := cursor.fetchmany(batch):
                yield from page

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
        """Many rows into a table of this import at once: COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.is_postgresql:
            self.connection.ensure_connection()
            with (
                self.connection.connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("%s" for _ in columns)
        adapted = [tuple(self.param(value) for value in row) for row in rows]
        with self.connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", adapted)

    def differs(self, new: str, old: str) -> str:
        """SQL true when `new` (not NULL) differs from `old` (NULL or not)."""
        if self.is_postgresql:
            return f"({new} IS NOT NULL AND {new} IS DISTINCT FROM {old})"
        return f"({new} IS NOT NULL AND {new} IS NOT {old})"

    def same_time(self, staged: str, stored: str) -> str:
        """SQL true when a staged time (whole seconds, from a cell) is the stored one as precisely as
        the cell says it: to the minute when its seconds are 0, else to the second.

        Exports write whole seconds, and Excel saves a CSV's times without seconds (2023/1/2 10:00): an
        exported file saved in Excel must not move every member's registration time.
        """
        if self.is_postgresql:
            return (
                f"(CASE WHEN date_trunc('minute', {staged}) = {staged} THEN date_trunc('minute', {stored}) "
                f"ELSE date_trunc('second', {stored}) END = {staged})"
            )
        # SQLite keeps times as UTC text, 2023-01-02 02:00:37[.123456]; a staged one has no fraction.
        return (
            f"(CASE WHEN substr({staged}, 18, 2) = '00' THEN substr({stored}, 1, 16) = substr({staged}, 1, 16) "
            f"ELSE substr({stored}, 1, 19) = {staged} END)"
        )

    def format_int(self, expression: str) -> str:
        """SQL text of an integer with thousands separators (1,234), for messages: statements with
        parameters, whose literal percent signs are doubled (DEBUG's query log formats them with %)."""
        if self.is_postgresql:
            return f"to_char({expression}, 'FM999,999,999,999,990')"
        return f"printf('%%,d', {expression})"

    def format_money(self, expression: str) -> str:
        """SQL text of an amount (not negative) with thousands separators and two decimals (1,234.50), for
        statements with parameters like format_int."""
        if self.is_postgresql:
            return f"to_char({expression}, 'FM999,999,999,999,990.00')"
        # printf's thousands separator is for integers only: the whole part, then the cents.
        rounded = f"ROUND({expression}, 2)"
        return f"(printf('%%,d', CAST({rounded} AS integer)) || substr(printf('%%.2f', {rounded}), -3))"

    def sql_type(self, name: str) -> str:
        """The column type of this database for one of the staging types ("digest", "money" …)."""
        return (_PG_TYPES if self.is_postgresql else _SQLITE_TYPES)[name]

    def c_order(self, expression: str) -> str:
        """Sort by code points: hex digests and E.164 phones sort the same as in their index, and much faster."""
        return f'{expression} COLLATE "C"' if self.is_postgresql else expression

    def distinct(self, a: str, b: str) -> str:
        return f"({a} IS DISTINCT FROM {b})" if self.is_postgresql else f"({a} IS NOT {b})"

    def money_text(self, expression: str) -> str:
        """SQL for an amount as a message shows it, 90.00 (SQLite would print the REAL 90.0). For
        statements with parameters, whose literal percent signs are doubled."""
        if self.is_postgresql:
            return f"CAST(ROUND({expression}, 2) AS numeric(14, 2))"
        return f"printf('%%.2f', {expression})"

    def param(self, value):
        """A query parameter as this database stores the matching column."""
        ops = self.connection.ops
        if isinstance(value, datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, date):
            return ops.adapt_datefield_value(value)
        if isinstance(value, Decimal):
            return ops.adapt_decimalfield_value(value)
        return value

    def message_sql(self, template: str, **expressions: str) -> tuple[str, list]:
        """A translated message with %(name)s placeholders → SQL that concatenates it per row, the
        placeholders filled from SQL expressions (the line a duplicate repeats, an amount …)."""
        parts, params = [], []
        position = 0
        for match in _PLACEHOLDER.finditer(template):
            if match.start() > position:
                parts.append("CAST(%s AS text)")
                params.append(template[position : match.start()])
            parts.append(f"CAST({expressions[match.group(1)]} AS text)")
            position = match.end()
        if position < len(template):
            parts.append("CAST(%s AS text)")
            params.append(template[position:])
        return " || ".join(parts) or "''", params

    def mark_bad(self, where: str, message: str, params: Sequence = (), *, from_: str = "", **expressions: str) -> int:
        """Give rows matching `where` the reason `message` (after any reason they already have).

        `where` and `from_` refer to the staging table by its name (stage.table); `params` fill the %s
        of `from_` and then `where`.
        """
        text, text_params = self.message_sql(message, **expressions)
        sql = (
            f"UPDATE {self.table} SET error = CASE WHEN {self.table}.error IS NULL THEN {text} "
            f"ELSE {self.table}.error || '; ' || {text} END "
            f"{'FROM ' + from_ if from_ else ''} WHERE {where}"
        )
        return self.execute(sql, [*text_params, *text_params, *params])


class _CopyWriter:
    def __init__(self, stage: Stage):
        self.stage = stage
        self._stack = ExitStack()

    def __enter__(self):
        self.stage.connection.ensure_connection()
        cursor = self._stack.enter_context(self.stage.connection.connection.cursor())
        columns = ", ".join(self.stage.write_columns)
        copy = self._stack.enter_context(cursor.copy(f"COPY {self.stage.table} ({columns}) FROM STDIN"))
        self.write = copy.write_row
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)


class _BatchWriter:
    def __init__(self, stage: Stage):
        self.stage = stage
        self._batch: list[tuple] = []
        columns = ", ".join(stage.write_columns)
        marks = ", ".join("%s" for _ in stage.write_columns)
        self._sql = f"INSERT INTO {stage.table} ({columns}) VALUES ({marks})"
        self._head = 2 + len(stage.fixed)
        self._adapt = [self._adapter(c.sql_type) for c in stage.columns]

    def _adapter(self, sql_type: str):
        param = self.stage.param
        if sql_type in ("date", "datetime", "money", "quantity"):
            return lambda value: None if value is None else param(value)
        return None

    def __enter__(self):
        return self

    def write(self, row: Sequence) -> None:
        head, values = row[: self._head], list(row[self._head :])
        for i, adapt in enumerate(self._adapt):
            if adapt is not None and values[i] is not None:
                values[i] = adapt(values[i])
        self._batch.append((*head, *values))
        if len(self._batch) >= SQLITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            with self.stage.connection.cursor() as cursor:
                cursor.executemany(self._sql, self._batch)
            self._batch = []

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.flush()
        return False
