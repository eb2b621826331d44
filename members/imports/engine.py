"""What every set-based CSV import shares: the run's life cycle, the staging loop and the error report.

An import (members, purchase history) is a subclass of ImportRun with three steps:

1. stage_file(stream): the file streams through members.imports.reader; the header is matched to the
   import's columns; every cell goes through its column's widget and the row lands in the staging
   table with its problems (ImportRun.stage_rows does this part for every import). Nothing per row
   stays in Python memory.
2. check(): SQL over the staging table marks the bad rows and counts what would happen.
3. write(): when nothing is bad or bad rows are to be skipped, and this is not a dry run.

run_import() drives them inside one transaction: in the default mode a single bad row leaves the
database as it was. Every import, written or not, leaves an audit row; the bad rows go to an error
report (CSV: line, reason and the row's own cells).
"""

import csv
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from config.tabular import FORMULA_TRIGGERS, unquote_formula
from members.imports.columns import HeaderMap, ImportColumn
from members.imports.reader import CsvReader, ImportFileError, Row
from members.imports.stage import Stage
from stores.services import audit_record

ALL_OR_NOTHING = "all_or_nothing"
SKIP_BAD_ROWS = "skip_bad_rows"
PROGRESS_EVERY_ROWS = 10_000
ERROR_SAMPLE = 100
# What finish_row() answers for a row of blank cells: it is left out, like a blank line.
BLANK_ROW = object()


@dataclass
class ImportProgress:
    phase: str  # reading, checking, writing, report, done
    bytes_read: int = 0
    rows: int = 0
    rejected: int = 0


@dataclass
class ImportResult:
    file_name: str
    mode: str
    dry_run: bool
    encoding: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    written: bool = False
    # Figures the import adds, e.g. ("Opening points", "120 members, 35,000 points").
    extra: list[tuple[str, str]] = field(default_factory=list)
    # Columns of the file the import read past (as the file names them): an export's member code …
    ignored_columns: list[str] = field(default_factory=list)
    # The first bad rows, for a summary; the error report has them all.
    errors: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    def audit_data(self) -> dict:
        return {
            "file": self.file_name,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "written": self.written,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "extra": [[label, value] for label, value in self.extra],
            "ignored_columns": self.ignored_columns,
        }


class _Rollback(Exception):
    pass


class ImportRun:
    """One import of one file. Subclasses set `columns` and `stage` in __init__ and implement
    stage_file(), check() and write(); stage_file() usually calls stage_rows()."""

    columns: list[ImportColumn]
    stage: Stage

    def __init__(self, *, result: ImportResult, actor, now, progress, options: dict):
        self.result = result
        self.actor = actor
        self.actor_id = actor.pk if actor is not None and actor.is_authenticated else None
        self.now = now
        self.options = options
        self._progress = progress
        self.bytes_read = 0
        self.header: HeaderMap | None = None

    def report(self, phase: str) -> None:
        if self._progress is not None:
            self._progress(
                ImportProgress(
                    phase=phase, bytes_read=self.bytes_read, rows=self.result.rows, rejected=self.result.rejected
                )
            )

    def count_bytes(self, n: int) -> None:
        self.bytes_read += n

    def reader(self, stream: BinaryIO) -> CsvReader:
        return CsvReader(stream, on_bytes=self.count_bytes)

    def stage_file(self, stream: BinaryIO) -> None:
        raise NotImplementedError

    def check(self) -> None:
        raise NotImplementedError

    def write(self) -> None:
        raise NotImplementedError

    # --- the staging loop ------------------------------------------------------------------------

    def start_row(self, values: list) -> None:
        """Fill the row's own leading values (after line and error) before its cells are parsed."""

    def finish_row(self, values: list, cells: list[str], errors: list[str] | None):
        """The row's errors once every cell is parsed (append to `errors` or return a new list), None
        when it is good, or BLANK_ROW to leave the row out."""
        return errors

    def stage_rows(self, rows: Iterator[Row]) -> None:
        """Every row through its columns' widgets into the staging table, as the file streams past."""
        stage = self.stage
        position = stage.positions()
        width = len(stage.write_columns)
        # One step per column of the file, in its order (map_header refused unknown columns); None for
        # a column the import ignores.
        plan = [
            (position[column.key], column.parser(), label) if column is not None else None
            for column, label in zip(self.header.positions, self.header.labels, strict=True)
        ]
        start_row, finish_row = self.start_row, self.finish_row
        count = rejected = 0
        result, report = self.result, self.report
        with stage.writer() as writer:
            write = writer.write
            for line, cells, problem in rows:
                values = [None] * width
                values[0] = line
                start_row(values)
                if problem is not None:
                    values[1] = problem
                    write(values)
                    count += 1
                    rejected += 1
                    continue
                errors = None
                # A row may be shorter than the header (missing cells are empty) or longer by empty
                # cells only (the reader refused more).
                for step, cell in zip(plan, cells, strict=False):
                    if cell and step is not None:
                        text = cell.strip()
                        if text and text[0] == "'":
                            # The apostrophe our exports put before = + - @ (config.tabular.neutralise)
                            # is not part of the value: '+85291234567 is the phone +85291234567.
                            text = unquote_formula(text).strip()
                        if text:
                            at, parse, label = step
                            try:
                                values[at] = parse(text)
                            except ValueError as error:
                                if errors is None:
                                    errors = []
                                errors.append(f"{label}: {error}")
                errors = finish_row(values, cells, errors)
                if errors is BLANK_ROW:
                    continue
                if errors:
                    values[1] = "; ".join(errors)
                    rejected += 1
                write(values)
                count += 1
                if count % PROGRESS_EVERY_ROWS == 0:
                    result.rows, result.rejected = count, rejected
                    report("reading")
        result.rows, result.rejected = count, rejected

    def note_ignored_columns(self) -> None:
        """Say which columns of the file were read past, among the figures every summary shows (the
        command's, the job page's): someone who edited one of them must not believe it was imported."""
        if self.header is not None and self.header.ignored:
            self.result.ignored_columns = list(self.header.ignored)
            self.result.extra.append((_("Ignored columns"), "、".join(self.header.ignored)))

    def label_of(self, key: str) -> str:
        """How the file's header names a column (for messages about it), or its template header."""
        for i, column in self.header.present():
            if column.key == key:
                return self.header.labels[i]
        return next(column.header for column in self.columns if column.key == key)

    def error_sample(self) -> list[tuple[int, str]]:
        t = self.stage.table
        return [
            (line, error)
            for line, error in self.stage.fetchall(
                f"SELECT line, error FROM {t} WHERE error IS NOT NULL ORDER BY line LIMIT {ERROR_SAMPLE}"
            )
        ]


def run_import(
    run_class: type[ImportRun],
    *,
    action: str,
    open_source: Callable[[], BinaryIO],
    file_name: str,
    actor=None,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    error_report: BinaryIO | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    audit_target=None,
    options: dict | None = None,
) -> ImportResult:
    """Run one import of the file `open_source()` opens (binary; it is opened a second time to write
    the error report). Raises ImportFileError when the file as a whole cannot be imported.

    Audit actions: `{action}.imported`, `.import_rejected`, `.import_dry_run`, `.import_refused`.
    """
    started = time.perf_counter()
    now = timezone.now()
    result = ImportResult(
        file_name=file_name[:255], mode=SKIP_BAD_ROWS if skip_bad_rows else ALL_OR_NOTHING, dry_run=dry_run
    )
    run = run_class(result=result, actor=actor, now=now, progress=progress, options=options or {})
    try:
        with open_source() as stream, transaction.atomic():
            run.stage_file(stream)
            run.check()
            run.note_ignored_columns()
            result.written = not dry_run and (skip_bad_rows or result.rejected == 0) and result.rows > result.rejected
            if result.written:
                run.write()
                audit_record(actor=actor, action=f"{action}.imported", target=audit_target, data=result.audit_data())
            if error_report is not None and result.rejected:
                run.report("report")
                with open_source() as again:
                    write_error_report(error_report, again, run.stage, run.header)
            run.stage.drop()
            if not result.written:
                raise _Rollback
    except _Rollback:
        pass
    except ImportFileError as error:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action=f"{action}.import_refused",
                target=audit_target,
                data={"file": result.file_name, "mode": result.mode, "dry_run": dry_run, "reason": error.message},
            )
        raise
    if not result.written:
        with transaction.atomic():
            outcome = "import_dry_run" if dry_run else "import_rejected"
            audit_record(actor=actor, action=f"{action}.{outcome}", target=audit_target, data=result.audit_data())
    result.seconds = time.perf_counter() - started
    run.report("done")
    return result


# --- error report ------------------------------------------------------------------------------


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe; plain numbers do not."""
    if cell.startswith(FORMULA_TRIGGERS):
        try:
            float(cell)
        except ValueError:
            return "'" + cell
    return cell


def write_error_report(out: BinaryIO, source: BinaryIO, stage: Stage, header: HeaderMap) -> None:
    """CSV (UTF-8 with BOM, for Excel) of the bad rows: line, reason and the row's own cells.

    The reasons stream from the staging table in line order; the cells from reading the file again
    alongside. Neither is held whole in memory.
    """
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow([pgettext("line of a file", "line"), _("reason"), *header.labels])
        reader = CsvReader(source)
        reader.header()
        reader.max_columns = header.width
        rows = iter(reader)
        row = next(rows, None)
        for line, error in stage.iter_errors():
            while row is not None and row.line < line:
                row = next(rows, None)
            cells = row.cells if row is not None and row.line == line else []
            writer.writerow([line, error, *(spreadsheet_safe(c) for c in cells)])
        text.flush()
    finally:
        text.detach()
