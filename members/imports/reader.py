"""A streaming CSV reader for imports: bytes in, (line number, cells) out, never the whole file in memory.

What it copes with, because Excel and older systems produce all of it:

- UTF-8 with or without a byte-order mark, and GBK (read as GB18030, its superset) without one. The
  encoding is decided on the first bytes that are not ASCII, wherever they are: a file whose first
  megabyte is ASCII and whose names come later is still read right. A file that is neither, or that
  is binary (an XLSX, a PNG, UTF-16), is refused with a message that says what to do instead.
- \\r\\n, \\n and lone \\r line endings, mixed in one file; quoted cells holding line breaks. The line
  number of a row is the line of the file where the row starts, as an editor shows it.
- Hostile sizes: a line longer than `max_line_chars` is never held in memory (it is counted and
  dropped as it streams past), a cell longer than `max_cell_chars` makes its row bad, and Python's
  csv limit (csv.field_size_limit, 128 KiB by default) is a backstop. A row's problem is reported
  with the row and reading goes on with the next row.

Rows come out as `Row(line, cells, problem)`: `problem` is None, or the reason the row cannot be used
(the caller reports it like any other bad row). Blank lines are skipped.
"""

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, NamedTuple

from django.utils.translation import gettext as _

CHUNK_BYTES = 1 << 20
MAX_CELL_CHARS = 4_000
MAX_LINE_CHARS = 1 << 20
MAX_COLUMNS = 100

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Magic numbers of what people upload instead of a CSV file.
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "XLSX / ZIP",
    b"\xd0\xcf\x11\xe0": "XLS",
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"%PDF": "PDF",
    b"\x1f\x8b": "GZIP",
}
# str.splitlines() also breaks at these; csv must not, so chunks holding one are split by the regex.
_OTHER_LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_REPLACEMENT = "\ufffd"


class ImportFileError(Exception):
    """The file as a whole cannot be imported; the message says why, in the user's language."""

    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


class Row(NamedTuple):
    line: int
    cells: list[str]
    problem: str | None


class _Decoder:
    """Bytes to text, deciding between UTF-8 and GB18030 on the first bytes that are not ASCII."""

    def __init__(self):
        self.encoding: str | None = None
        self._decoder = None

    def decode(self, data: bytes, *, final: bool = False) -> str:
        if self._decoder is None:
            if data.isascii():
                return data.decode("ascii")
            self._choose(data)
        return self._decoder.decode(data, final)

    def finish(self) -> str:
        return self._decoder.decode(b"", True) if self._decoder is not None else ""

    def start_with(self, encoding: str) -> None:
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def _choose(self, data: bytes) -> None:
        bad_counts = {}
        for encoding in ("utf-8", "gb18030"):
            try:
                codecs.getincrementaldecoder(encoding)(errors="strict").decode(data, False)
            except UnicodeDecodeError:
                text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(data, False)
                bad_counts[encoding] = (text.count(_REPLACEMENT), len(text))
                continue
            self.start_with(encoding)
            return
        # Neither decodes cleanly: accept a stray bad byte or two (their rows are reported), not more.
        encoding, (bad, length) = min(bad_counts.items(), key=lambda item: item[1][0])
        if bad > max(3, length // 1000):
            raise ImportFileError(
                _("The file is neither UTF-8 nor GBK text. Save it from Excel as “CSV UTF-8 (comma delimited)”.")
            )
        self.start_with(encoding)


class CsvReader:
    """Iterate over a binary stream's CSV rows. `on_bytes(n)` is called as each chunk is read."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        on_bytes: Callable[[int], None] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        max_cell_chars: int = MAX_CELL_CHARS,
        max_line_chars: int = MAX_LINE_CHARS,
        max_columns: int = MAX_COLUMNS,
    ):
        self._stream = stream
        self._on_bytes = on_bytes
        self._chunk_bytes = chunk_bytes
        self.max_cell_chars = max_cell_chars
        self.max_line_chars = max_line_chars
        # Rows may have at most this many cells that are not empty (the caller narrows it to the
        # header's width); trailing empty cells, which Excel writes, are dropped.
        self.max_columns = max_columns
        self._decoder = _Decoder()
        self.bytes_read = 0
        self.delimiter = ","
        # Kept up to date by the line generator, read by the row loop.
        self.line_no = 0
        self._quotes = 0
        self._long_line = 0
        self._oversized_line = 0
        self._bad_bytes_line = 0
        self._lines = self._iter_lines()
        self._csv = None

    @property
    def encoding(self) -> str:
        return self._decoder.encoding or "ascii"

    # --- bytes → text ----------------------------------------------------------------------------

    def _chunks(self) -> Iterator[str]:
        first = True
        while True:
            data = self._stream.read(self._chunk_bytes)
            if first:
                data = self._check_start(data)
                first = False
            if not data:
                tail = self._decoder.finish()
                if tail:
                    yield tail
                return
            self.bytes_read += len(data)
            if self._on_bytes is not None:
                self._on_bytes(len(data))
            yield self._decoder.decode(data)

    def _check_start(self, data: bytes) -> bytes:
        head = data[:8]
        if not data.strip(b" \t\r\n" + _UTF8_BOM):
            raise ImportFileError(_("The file is empty."))
        if head.startswith(_UTF16_BOMS):
            raise ImportFileError(_("The file is UTF-16 text. Save it from Excel as “CSV UTF-8 (comma delimited)”."))
        for signature, kind in _BINARY_SIGNATURES.items():
            if head.startswith(signature):
                raise ImportFileError(
                    _(
                        "The file is not CSV text (it looks like %(kind)s). "
                        "Save it from Excel as “CSV UTF-8 (comma delimited)”."
                    )
                    % {"kind": kind}
                )
        if b"\x00" in data[:65536]:
            raise ImportFileError(_("This is not a CSV text file (it holds binary data)."))
        if data.startswith(_UTF8_BOM):
            self._decoder.start_with("utf-8")
            data = data[len(_UTF8_BOM) :]
        return data

    # --- text → lines ----------------------------------------------------------------------------

    def _iter_lines(self) -> Iterator[str]:
        """Physical lines with their endings; counts lines and quotes and notes long and bad lines."""
        pending = ""
        discarding = False  # inside a line longer than max_line_chars
        discarded_quotes = 0
        max_line, max_cell = self.max_line_chars, self.max_cell_chars
        for text in self._chunks():
            if pending:
                text = pending + text
                pending = ""
            if discarding:
                end = _first_line_end(text)
                if end < 0:
                    discarded_quotes += text.count('"')
                    continue
                discarded_quotes += text.count('"', 0, end)
                text = text[end:]
                if text.startswith("\r\n"):
                    text = text[2:]
                elif text:
                    text = text[1:]
                discarding = False
                self.line_no += 1
                self._oversized_line = self.line_no
                # Stand-in for the dropped line that leaves csv in the quoting state the real one would.
                stand_in = '"\n' if discarded_quotes % 2 else "\n"
                self._quotes += discarded_quotes
                discarded_quotes = 0
                yield stand_in
            if text.endswith("\r"):
                # Perhaps half of a \r\n: decide when the next chunk comes.
                pending, text = "\r", text[:-1]
            if _OTHER_LINE_BREAKS.search(text) is None:
                lines = text.splitlines(True)
            else:
                lines = _LINE.findall(text)
                rest = text[sum(map(len, lines)) :]
                if rest:
                    lines.append(rest)
            if lines and not lines[-1].endswith(("\n", "\r")):
                pending = lines.pop() + pending
            check_bytes = _REPLACEMENT in text or "\x00" in text
            for line in lines:
                self.line_no += 1
                if '"' in line:
                    self._quotes += line.count('"')
                if len(line) > max_cell:
                    self._long_line = self.line_no
                if check_bytes and (_REPLACEMENT in line or "\x00" in line):
                    self._bad_bytes_line = self.line_no
                yield line
            if len(pending) > max_line:
                discarding = True
                discarded_quotes = pending.count('"')
                pending = ""
        if discarding:
            self.line_no += 1
            self._oversized_line = self.line_no
            yield '"\n' if discarded_quotes % 2 else "\n"
        elif pending:
            self.line_no += 1
            if '"' in pending:
                self._quotes += pending.count('"')
            if len(pending) > max_cell:
                self._long_line = self.line_no
            if _REPLACEMENT in pending or "\x00" in pending:
                self._bad_bytes_line = self.line_no
            yield pending

    def _skip_to_record_end(self) -> None:
        """After csv gave up inside a quoted cell, drop lines until that cell's quotes close."""
        while self._quotes % 2:
            if next(self._lines, None) is None:
                return

    # --- lines → rows ----------------------------------------------------------------------------

    def header(self) -> Row:
        """The first row that is not blank: the header. Refuses a file without one."""
        for row in self._rows():
            if row.problem:
                raise ImportFileError(
                    _("The header row (line %(line)d) cannot be read: %(problem)s")
                    % {"line": row.line, "problem": row.problem},
                    line=row.line,
                )
            return row
        raise ImportFileError(_("The file is empty."))

    def __iter__(self) -> Iterator[Row]:
        return self._rows()

    def _csv_reader(self):
        """csv.reader over the lines, with the delimiter the first line suggests: a comma, unless it
        has more semicolons or tabs (what Excel writes in some locales)."""
        first = next(self._lines, None)
        if first is not None:
            counts = {d: first.count(d) for d in (",", ";", "\t")}
            self.delimiter = max(counts, key=lambda d: (counts[d], d == ","))
            # csv reads the peeked line again below; count it then.
            self.line_no -= 1

        def lines():
            if first is not None:
                self.line_no += 1
                yield first
            yield from self._lines

        return csv.reader(lines(), delimiter=self.delimiter)

    def _rows(self) -> Iterator[Row]:
        if self._csv is None:
            self._csv = self._csv_reader()
        reader = self._csv
        max_cell = self.max_cell_chars
        while True:
            start = self.line_no + 1
            self._quotes = 0
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                self._skip_to_record_end()
                yield Row(start, [], _csv_problem(error))
                continue
            if not cells or not any(cells):
                if self._oversized_line >= start:
                    yield Row(start, [], _oversize_problem(self.max_line_chars))
                continue
            if self._oversized_line >= start:
                yield Row(start, [_clip(c) for c in cells], _oversize_problem(self.max_line_chars))
                continue
            if self._long_line >= start:
                too_long = next((i for i, cell in enumerate(cells) if len(cell) > max_cell), None)
                if too_long is not None:
                    yield Row(
                        start,
                        [_clip(c) for c in cells],
                        _("Cell %(column)d is %(length)s characters long; at most %(limit)s are allowed.")
                        % {"column": too_long + 1, "length": f"{len(cells[too_long]):,}", "limit": f"{max_cell:,}"},
                    )
                    continue
            if len(cells) > self.max_columns:
                while cells and not cells[-1].strip():
                    cells.pop()
                if len(cells) > self.max_columns:
                    yield Row(
                        start,
                        cells[: self.max_columns + 5],
                        _("This row has %(cells)d cells but the header has %(columns)d columns.")
                        % {"cells": len(cells), "columns": self.max_columns},
                    )
                    continue
            if self._bad_bytes_line >= start:
                if any("\x00" in cell for cell in cells):
                    problem = _("This row contains a NUL character.")
                else:
                    problem = _("This row holds bytes that are not valid %(encoding)s text.") % {
                        "encoding": "GBK" if self.encoding == "gb18030" else "UTF-8"
                    }
                yield Row(start, [c.replace("\x00", "") for c in cells], problem)
                continue
            yield Row(start, cells, None)


def _first_line_end(text: str) -> int:
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return min(ends) if ends else -1


def _clip(cell: str, limit: int = 200) -> str:
    return cell if len(cell) <= limit else cell[:limit] + "…"


def _oversize_problem(limit: int) -> str:
    return _("A line of this row is longer than %(limit)s characters.") % {"limit": f"{limit:,}"}


def _csv_problem(error: csv.Error) -> str:
    text = str(error)
    if "field larger than field limit" in text:
        return _("A cell is longer than %(limit)s characters.") % {"limit": f"{csv.field_size_limit():,}"}
    if "NUL" in text:
        return _("This row contains a NUL character.")
    return _("This row is not valid CSV (%(error)s).") % {"error": text}
