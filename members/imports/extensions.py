"""Columns and writes that apps above members add to the members import.

Members cannot import loyalty (DESIGN §3: loyalty → members), yet opening points and stored-value
balances arrive in the same file. So loyalty registers an extension from its AppConfig.ready():

    register_import_extension(OpeningBalancesImport())

An extension names its columns (they become columns of the staging table, keyed by column.key), then
works set-based on the staging table (members.imports.stage.Stage) inside the import's transaction:

- check(stage) marks rows it refuses (stage.mark_bad) and rows of existing members it would change
  (`touched`);
- summary(stage), once every check has run, gives figures for the summary ([(label, value)]): what
  the import writes, or would write in a dry run;
- apply(stage, staff_id=..., now=...) writes, after the members exist: every good row has `member_id`.

The staging table's own columns: line, error, touched, member_id, phone and the member columns.

An app whose columns the members export writes, and that the import must not write (loyalty's tier),
registers them as ignored import columns, so an exported file imports again:

    register_ignored_import_column(IgnoredColumn("tier", "会员等级"))
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from members.imports.columns import IgnoredColumn, ImportColumn


class ImportExtension(Protocol):
    name: str

    def columns(self) -> Sequence[ImportColumn]: ...

    def check(self, stage) -> None: ...

    def summary(self, stage) -> list[tuple[str, str]]: ...

    def apply(self, stage, *, staff_id: int | None, now: datetime) -> None: ...


_extensions: dict[str, ImportExtension] = {}
_ignored: dict[str, IgnoredColumn] = {}


def register_import_extension(extension: ImportExtension) -> None:
    """Add (or replace, by name) an extension of the members import; call it from AppConfig.ready()."""
    _extensions[extension.name] = extension


def import_extensions() -> list[ImportExtension]:
    return list(_extensions.values())


def register_ignored_import_column(column: IgnoredColumn) -> None:
    """Add (or replace, by key) a column the members import reads past; call it from AppConfig.ready()."""
    _ignored[column.key] = column


def ignored_import_columns() -> list[IgnoredColumn]:
    return list(_ignored.values())
