"""Tabular exports (CSV and XLSX) that stream: rows come in chunks and leave as soon as they are written.

The apps build their rows (members.exports, loyalty.exports); this module only writes them, so every
export of the back office formats, neutralises and streams cells the same way:

- CSV is UTF-8 with a BOM (Excel then opens Chinese text right) and CRLF line ends, produced by a
  generator: a StreamingHttpResponse sends each chunk as it is written, a file gets it chunk by chunk.
- XLSX is written by XlsxWriter in constant_memory mode (each row is flushed to a temporary file as it
  is written) into a temporary file that is then streamed; a zip file cannot be sent before it is
  complete, so the first byte of an XLSX leaves only when the last row is written.
- Text a spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return) is
  neutralised: in CSV it gets a leading single quote ('=HYPERLINK(...) shows as text in Excel, LibreOffice
  and WPS); in XLSX the cell is a typed text cell with Excel's "quote prefix" style, which keeps it text
  even when someone edits it, so the value itself stays intact. Numbers are never neutralised: a negative
  amount stays a number.

Cell kinds: TEXT (str), INT, MONEY (a Decimal with two places), DECIMAL (a Decimal rounded as it should
read, such as 0.85 expected purchases), PERCENT (a Decimal of percent points rounded as it should read:
12.3 is written 12.3% in CSV, and 0.123 shown as 12.3% in XLSX, so a spreadsheet reads a number either
way), DATE (date), DATETIME (a naive local datetime in whole seconds; the row builders convert to local
time). None is an empty cell. Rows are lists, one list of rows per chunk; writing a CSV may change their
text and percent cells in place.
"""

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.core.exceptions import ValidationError
from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

TEXT, INT, MONEY, DATE, DATETIME = "text", "int", "money", "date", "datetime"
DECIMAL, PERCENT = "decimal", "percent"
CSV, XLSX = "csv", "xlsx"
FORMATS = (CSV, XLSX)
# Excel's sheet has 1,048,576 rows; one is the header.
XLSX_MAX_ROWS = 1_048_575
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGERS = frozenset(FORMULA_TRIGGERS)
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

RowChunks = Iterator[list[list]]
ChunkCallback = Callable[[int], None]


def neutralise(text: str) -> str:
    """'=1+1 for =1+1: a spreadsheet opening the CSV shows the text instead of running it."""
    if text and text[0] in FORMULA_TRIGGERS:
        return "'" + text
    return text


def unquote_formula(text: str) -> str:
    """=1+1 for '=1+1: undo what neutralise() added, so a file this project exported imports again.

    Only an apostrophe before one of the triggers is removed: an apostrophe a cell really starts with
    ('t Hooft, 'hello') is left as it is, because neutralise() never writes one there.
    """
    if len(text) > 1 and text[0] == "'" and text[1] in _TRIGGERS:
        return text[1:]
    return text


def export_format(value: str | None, *, filename: str | os.PathLike | None = None) -> str:
    """The format asked for, or the one the file name's extension says; ValidationError otherwise."""
    if value:
        fmt = str(value).strip().lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValidationError(
                _("Unknown format “%(format)s”: choose csv or xlsx."), code="unknown_format", params={"format": value}
            )
        return fmt
    suffix = Path(filename).suffix.lower().lstrip(".") if filename else ""
    if suffix in FORMATS:
        return suffix
    raise ValidationError(
        _("Cannot tell the format from “%(name)s”: name the file .csv or .xlsx, or give the format."),
        code="unknown_format",
        params={"name": str(filename or "")},
    )


def check_row_limit(fmt: str, count: int) -> None:
    if fmt == XLSX and count > XLSX_MAX_ROWS:
        raise ValidationError(
            _("An XLSX sheet holds at most %(max)s rows and this export has %(count)s: choose CSV or narrow it."),
            code="too_many_rows",
            params={"max": f"{XLSX_MAX_ROWS:,}", "count": f"{count:,}"},
        )


# --- CSV --------------------------------------------------------------------------------------


def csv_chunks(headers: list[str], kinds: list[str], chunks: RowChunks, on_chunk: ChunkCallback | None = None):
    """Yield the CSV as UTF-8 bytes: the BOM and the header first, then one piece per chunk of rows.

    Only text cells need work: the csv module writes None as an empty cell, and numbers, two-place
    Decimals, dates and whole-second naive datetimes with str(), which is the format wanted
    (128.50, 2026-01-31, 2026-01-31 09:30:00). Text cells are neutralised in the rows themselves.
    """
    text_columns = [i for i, kind in enumerate(kinds) if kind == TEXT]
    percent_columns = [i for i, kind in enumerate(kinds) if kind == PERCENT]
    triggers = _TRIGGERS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in headers])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for rows in chunks:
        for row in rows:
            for i in text_columns:
                value = row[i]
                if value and value[0] in triggers:
                    row[i] = "'" + value
            for i in percent_columns:
                if row[i] is not None:
                    row[i] = f"{row[i]}%"
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(rows)
        yield buffer.getvalue().encode("utf-8")
        if on_chunk is not None:
            on_chunk(len(rows))


# --- XLSX -------------------------------------------------------------------------------------


def write_xlsx(
    target, headers: list[str], kinds: list[str], chunks: RowChunks, on_chunk: ChunkCallback | None = None
) -> None:
    """Write an XLSX to `target` (a path or a binary file object) in constant memory."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            # Text stays text: nothing becomes a formula, a number or a link because of how it looks.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    try:
        sheet = workbook.add_worksheet()
        bold = workbook.add_format({"bold": True})
        quoted = workbook.add_format({"quote_prefix": True})
        formats = {
            MONEY: workbook.add_format({"num_format": "0.00"}),
            DECIMAL: workbook.add_format({"num_format": "0.00"}),
            PERCENT: workbook.add_format({"num_format": "0.0%"}),
            DATE: workbook.add_format({"num_format": "yyyy-mm-dd"}),
            DATETIME: workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        }
        widths = {TEXT: 16, INT: 10, MONEY: 12, DECIMAL: 12, PERCENT: 10, DATE: 12, DATETIME: 20}
        for column, kind in enumerate(kinds):
            sheet.set_column(column, column, widths.get(kind, 14))
        sheet.freeze_panes(1, 0)
        for column, header in enumerate(headers):
            sheet.write_string(0, column, header, bold)
        write_string, write_number, write_datetime = sheet.write_string, sheet.write_number, sheet.write_datetime
        money, day, moment = formats[MONEY], formats[DATE], formats[DATETIME]
        decimal, percent = formats[DECIMAL], formats[PERCENT]
        columns = list(enumerate(kinds))
        row_no = 0
        for rows in chunks:
            for row in rows:
                row_no += 1
                for column, kind in columns:
                    value = row[column]
                    if value is None or value == "":
                        continue
                    if kind == TEXT:
                        if value[0] in FORMULA_TRIGGERS:
                            write_string(row_no, column, value, quoted)
                        else:
                            write_string(row_no, column, value)
                    elif kind == INT:
                        write_number(row_no, column, value)
                    elif kind == MONEY:
                        write_number(row_no, column, float(value), money)
                    elif kind == DECIMAL:
                        write_number(row_no, column, float(value), decimal)
                    elif kind == PERCENT:
                        write_number(row_no, column, float(value) / 100, percent)
                    elif kind == DATE:
                        write_datetime(row_no, column, value, day)
                    else:
                        write_datetime(row_no, column, value, moment)
            if on_chunk is not None:
                on_chunk(len(rows))
    finally:
        workbook.close()


# --- an export ready to be written ------------------------------------------------------------


@dataclass
class TabularExport:
    """What an export service hands back once it has checked, counted and audited: the rows to write.

    `chunks` is called once, when the file is written; it yields lists of rows (lists of cell values
    in `kinds`' order) and runs its queries as it goes.
    """

    headers: list[str]
    kinds: list[str]
    chunks: Callable[[], RowChunks]
    count: int
    fmt: str
    filename: str
    audit_id: int | None = None
    details: dict = field(default_factory=dict)

    def csv_chunks(self, on_chunk: ChunkCallback | None = None) -> Iterator[bytes]:
        return csv_chunks(self.headers, self.kinds, self.chunks(), on_chunk)

    def write_xlsx(self, target, on_chunk: ChunkCallback | None = None) -> None:
        write_xlsx(target, self.headers, self.kinds, self.chunks(), on_chunk)

    def write_to(self, path: str | os.PathLike, on_chunk: ChunkCallback | None = None) -> None:
        """Write the file at `path` whole or not at all: into a temporary file beside it, renamed at the end."""
        path = Path(path)
        handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                if self.fmt == CSV:
                    for piece in self.csv_chunks(on_chunk):
                        out.write(piece)
                else:
                    self.write_xlsx(out, on_chunk)
            # mkstemp made it readable by its owner only, which suits a file of personal data.
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def http_response(self):
        """A streaming download: CSV row chunk by row chunk; XLSX built in a temporary file, then sent."""
        if self.fmt == CSV:
            response = StreamingHttpResponse(self.csv_chunks(), content_type=CONTENT_TYPES[CSV])
            response["Content-Disposition"] = content_disposition_header(True, self.filename)
        else:
            # An anonymous temporary file: FileResponse closes it when sent, and closing removes it.
            spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it)
            try:
                self.write_xlsx(spool)
            except BaseException:
                spool.close()
                raise
            spool.seek(0)
            response = FileResponse(spool, as_attachment=True, filename=self.filename, content_type=CONTENT_TYPES[XLSX])
        response["Cache-Control"] = "no-store"
        response["X-Export-Rows"] = str(self.count)
        return response


def batched(iterable: Iterable, size: int) -> Iterator[list]:
    """Lists of `size` items (the last one shorter): itertools.batched arrives with Python 3.12."""
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk
