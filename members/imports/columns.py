"""The columns an import understands and how a file's header names them.

A column has a key (the staging table's column and the resource field's name), the Chinese header the
template uses, the aliases people write instead (English or Chinese, any case, spaces, full-width
characters, a "*" or a unit in brackets: "储值余额（元）", "Phone Number", "*手机号"), the widget
that turns a cell into a value, and the SQL type of the staged value.

Apps above members (loyalty's opening balances) add columns through members.imports.extensions.

An import may also know columns it reads past (IgnoredColumn): those the members export writes that an
import cannot or must not write (the member code, the tier, the store's name …). A file exported by
the back office then imports again as it is; the result names the columns that were ignored.
"""

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _

from members.imports.reader import ImportFileError

# The SQL types a staged value can have; members.imports.stage maps them to each database's types.
SQL_TYPES = {"text", "date", "datetime", "integer", "bigint", "money"}


@dataclass(frozen=True)
class ImportColumn:
    key: str
    header: str
    aliases: tuple[str, ...]
    widget: object
    sql_type: str = "text"
    required: bool = False

    def parser(self) -> Callable[[str], object]:
        """What turns a stripped, non-empty cell into its staged value (members.resources.CellRules:
        a store code becomes the store's id, a referrer the E.164 phone, tags a JSON array)."""
        return self.widget.parse


@dataclass(frozen=True)
class IgnoredColumn:
    """A column an import recognises and skips; `key` and `header` are the export's English and
    Chinese headers. Why each one is ignored is said where it is declared."""

    key: str
    header: str
    aliases: tuple[str, ...] = ()


def normalize_header(text: str) -> str:
    """'  *Phone Number ' → 'phonenumber'; '储值余额（元）' → '储值余额'."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", "", text)
    return re.sub(r"[\s_\-*:.·/]+", "", text)


@dataclass(frozen=True)
class HeaderMap:
    """Which column each position of the file holds; positions of ignored columns are None."""

    positions: tuple[ImportColumn | None, ...]
    labels: tuple[str, ...]
    # The file's own labels of the columns it has that the import ignores, in the file's order.
    ignored: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return len(self.positions)

    def present(self) -> list[tuple[int, ImportColumn]]:
        return [(i, column) for i, column in enumerate(self.positions) if column is not None]


def map_header(
    cells: Sequence[str], columns: Sequence[ImportColumn], ignored: Sequence[IgnoredColumn] = ()
) -> HeaderMap:
    """Match a header row to the columns; refuses unknown, repeated and missing required columns.

    A column of `ignored` is accepted and skipped (its position is None, its label in `ignored`).
    """
    by_name: dict[str, ImportColumn] = {}
    for column in columns:
        for name in (column.header, column.key, *column.aliases):
            by_name[normalize_header(name)] = column
    # A real column wins over an ignored one of the same name.
    skipped = {
        normalized
        for column in ignored
        for name in (column.header, column.key, *column.aliases)
        if (normalized := normalize_header(name)) not in by_name
    }
    labels = [cell.strip() for cell in cells]
    while labels and not labels[-1]:
        labels.pop()
    positions: list[ImportColumn | None] = []
    unknown, seen, skipping = [], {}, []
    for index, label in enumerate(labels):
        if not label:
            raise ImportFileError(
                _("Column %(column)d of the header has no name; name it or delete the column.") % {"column": index + 1}
            )
        normalized = normalize_header(label)
        column = by_name.get(normalized)
        if column is None and normalized in skipped:
            skipping.append(label)
            positions.append(None)
            continue
        if column is None:
            unknown.append(label)
            positions.append(None)
            continue
        if column.key in seen:
            raise ImportFileError(
                _("The columns “%(first)s” and “%(second)s” are the same column; keep one of them.")
                % {"first": seen[column.key], "second": label}
            )
        seen[column.key] = label
        positions.append(column)
    if unknown:
        raise ImportFileError(
            _("Unknown column(s): %(unknown)s. The columns are: %(known)s.")
            % {
                "unknown": "、".join(f"“{label[:40]}”" for label in unknown[:10]),
                "known": "、".join(column.header for column in columns),
            }
        )
    missing = [column.header for column in columns if column.required and column.key not in seen]
    if missing:
        raise ImportFileError(
            _("The file has no %(columns)s column. Use the template’s headers.") % {"columns": "、".join(missing)}
        )
    return HeaderMap(positions=tuple(positions), labels=tuple(labels), ignored=tuple(skipping))
