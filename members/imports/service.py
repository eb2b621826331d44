"""members_import(): a members CSV, validated row by row as it streams, written set-based.

1. Read: the file streams through members.imports.reader (encoding, line endings, sizes); the header
   is matched to the columns (members.resources.import_columns: the member's fields and what other
   apps register, loyalty's opening balances); every cell goes through its column's widget, the same
   widgets MemberResource uses, and the row is written to the staging table with its problems (COPY
   on PostgreSQL). Nothing per row stays in Python memory.
2. Check, in SQL over the staging table: the same phone twice in the file (the later line is bad and
   names the first), which rows are existing members, a new member without a name, the extensions'
   checks (an opening balance imported before with another amount), referrers that are neither
   members nor good rows of the file, and what would change for existing members.
3. Write, when nothing is bad or bad rows are to be skipped, and this is not a dry run: member codes
   for new members (generated in bulk, collisions redrawn), one INSERT … ON CONFLICT (phone) DO
   UPDATE … WHERE something differs, tags and their links, referrers, then the extensions' writes
   (opening balances as ledger entries). The same file again changes nothing.

All of it runs in one transaction: in the default mode a single bad row leaves the database as it
was. Imports queue behind each other (an advisory lock on PostgreSQL, the write lock on SQLite).
Every import, written or not, leaves an audit row.
"""

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from members.codes import new_member_codes
from members.imports.columns import HeaderMap, map_header
from members.imports.extensions import import_extensions
from members.imports.reader import CsvReader, ImportFileError
from members.imports.stage import Stage
from members.resources import import_columns, prepare_widgets
from stores.services import audit_record

ALL_OR_NOTHING = "all_or_nothing"
SKIP_BAD_ROWS = "skip_bad_rows"
PROGRESS_EVERY_ROWS = 10_000
ERROR_SAMPLE = 100
# Any number will do, as long as only member imports use it: they queue on it.
_ADVISORY_LOCK = 7_301_004


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
    # Figures other apps add, e.g. ("Opening points", "120 members, 35,000 points").
    extra: list[tuple[str, str]] = field(default_factory=list)
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
        }


class _Rollback(Exception):
    pass


def members_import(
    *,
    open_source: Callable[[], BinaryIO],
    file_name: str,
    actor=None,
    skip_bad_rows: bool = False,
    dry_run: bool = False,
    error_report: BinaryIO | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    audit_target=None,
) -> ImportResult:
    """Import members from the CSV that `open_source()` opens (binary; it is opened a second time to
    write the error report). Raises ImportFileError when the file as a whole cannot be imported.

    Default mode: all or nothing. `skip_bad_rows` writes the good rows; `dry_run` writes nothing and
    counts what would happen; in every case `result.errors` has the first bad rows and
    `error_report` (a binary file) gets all of them. `progress` is called as the file is read and at
    each phase; it must not query the database (it runs while the staging table's COPY is open):
    members.imports.jobs keeps it in the cache. It opens its own transaction (a savepoint inside one).
    """
    started = time.perf_counter()
    now = timezone.now()
    result = ImportResult(
        file_name=file_name[:255], mode=SKIP_BAD_ROWS if skip_bad_rows else ALL_OR_NOTHING, dry_run=dry_run
    )
    run = _Run(result=result, actor=actor, now=now, progress=progress)
    try:
        with open_source() as stream, transaction.atomic():
            run.stage_file(stream)
            run.check()
            result.written = not dry_run and (skip_bad_rows or result.rejected == 0) and result.rows > result.rejected
            if result.written:
                run.write()
                audit_record(actor=actor, action="members.imported", target=audit_target, data=result.audit_data())
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
                action="members.import_refused",
                target=audit_target,
                data={"file": result.file_name, "mode": result.mode, "dry_run": dry_run, "reason": error.message},
            )
        raise
    if not result.written:
        with transaction.atomic():
            action = "members.import_dry_run" if dry_run else "members.import_rejected"
            audit_record(actor=actor, action=action, target=audit_target, data=result.audit_data())
    result.seconds = time.perf_counter() - started
    run.report("done")
    return result


class _Run:
    def __init__(self, *, result: ImportResult, actor, now, progress):
        self.result = result
        self.actor_id = actor.pk if actor is not None and actor.is_authenticated else None
        self.now = now
        self._progress = progress
        self.bytes_read = 0
        self.columns = import_columns()
        prepare_widgets(self.columns, now=now)
        self.stage = Stage(self.columns)
        self.header: HeaderMap | None = None

    def report(self, phase: str) -> None:
        if self._progress is not None:
            self._progress(
                ImportProgress(
                    phase=phase, bytes_read=self.bytes_read, rows=self.result.rows, rejected=self.result.rejected
                )
            )

    def _count_bytes(self, n: int) -> None:
        self.bytes_read += n

    # --- 1. read and stage -----------------------------------------------------------------------

    def stage_file(self, stream: BinaryIO) -> None:
        reader = CsvReader(stream, on_bytes=self._count_bytes)
        self.header = map_header(reader.header().cells, self.columns)
        reader.max_columns = self.header.width
        if self.stage.is_postgresql:
            self.stage.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        self.stage.tune()
        self.stage.create()
        self.report("reading")
        self._stage_rows(reader)
        self.result.encoding = reader.encoding
        if not self.result.rows:
            raise ImportFileError(_("The file has a header but no rows."))
        self.report("checking")
        self.stage.index()
        self.stage.explode_tags()
        self.stage.index_tags()

    def _stage_rows(self, reader: CsvReader) -> None:
        """Every row through its columns' widgets into the staging table, as the file streams past."""
        keys = [column.key for column in self.columns]
        position = {key: 3 + i for i, key in enumerate(keys)}
        phone_at, referrer_at = position["phone"], position["referrer"]
        width = 3 + len(keys)
        # One step per column of the file, in its order (map_header refused unknown columns).
        plan = [
            (position[column.key], column.parser(), label)
            for column, label in zip(self.header.positions, self.header.labels, strict=True)
        ]
        phone_label = self.header.labels[next(i for i, c in self.header.present() if c.key == "phone")]
        codes = new_member_codes(1 << 62)
        rows = rejected = 0
        result, report = self.result, self.report
        with self.stage.writer() as writer:
            write = writer.write
            for line, cells, problem in reader:
                values = [None] * width
                values[0] = line
                values[2] = next(codes)
                if problem is not None:
                    values[1] = problem
                    write(values)
                    rows += 1
                    rejected += 1
                    continue
                errors = None
                # A row may be shorter than the header (missing cells are empty) or longer by empty
                # cells only (the reader refused more).
                for (at, parse, label), cell in zip(plan, cells, strict=False):
                    if cell:
                        text = cell.strip()
                        if text:
                            try:
                                values[at] = parse(text)
                            except ValueError as error:
                                if errors is None:
                                    errors = []
                                errors.append(f"{label}: {error}")
                phone = values[phone_at]
                if phone is None and errors is None:
                    if not "".join(cells).strip():
                        continue  # a row of blanks
                    errors = [f"{phone_label}: {_('Enter a phone number.')}"]
                elif phone is not None and values[referrer_at] == phone:
                    errors = errors or []
                    errors.append(_("A member cannot refer themselves."))
                if errors is not None:
                    values[1] = "; ".join(errors)
                    rejected += 1
                write(values)
                rows += 1
                if rows % PROGRESS_EVERY_ROWS == 0:
                    result.rows, result.rejected = rows, rejected
                    report("reading")
        result.rows, result.rejected = rows, rejected

    # --- 2. check --------------------------------------------------------------------------------

    def check(self) -> None:
        stage, t = self.stage, self.stage.table
        # A new member needs a name; which rows are members already is known from their phone.
        stage.execute(f"UPDATE {t} SET member_id = m.id FROM members_member m WHERE m.phone = {t}.phone")
        stage.mark_bad(
            f"{t}.member_id IS NULL AND {t}.phone IS NOT NULL AND {t}.name IS NULL AND {t}.error IS NULL",
            _("A new member needs a name."),
        )
        # The same phone twice, however it was written: the later lines are bad and name the first.
        stage.mark_bad(
            f"{t}.line = d.line AND d.first_line < d.line",
            _("The same phone number as line %(line)s."),
            from_=f"(SELECT line, MIN(line) OVER (PARTITION BY phone) AS first_line FROM {t} "
            f"WHERE phone IS NOT NULL) d",
            line="d.first_line",
        )
        extensions = import_extensions()
        for extension in extensions:
            extension.check(stage)
        self._check_referrers()
        self._mark_changes()
        extra = [figure for extension in extensions for figure in extension.summary(stage)]
        total, rejected, created, updated = stage.fetchone(
            f"SELECT COUNT(*), "
            f"COALESCE(SUM(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN error IS NULL AND member_id IS NULL THEN 1 ELSE 0 END), 0), "
            f"COALESCE(SUM(CASE WHEN error IS NULL AND member_id IS NOT NULL AND touched THEN 1 ELSE 0 END), 0) "
            f"FROM {t}"
        )
        result = self.result
        result.rows, result.rejected, result.created, result.updated = total, rejected, created, updated
        result.unchanged = total - rejected - created - updated
        result.extra = extra
        result.errors = [
            (line, error)
            for line, error in stage.fetchall(
                f"SELECT line, error FROM {t} WHERE error IS NOT NULL ORDER BY line LIMIT {ERROR_SAMPLE}"
            )
        ]
        self.report("checking")

    def _check_referrers(self) -> None:
        """A referrer must be a member already or a good row of the file; a referrer's bad row makes
        the rows it refers bad in turn (rounds until nothing changes)."""
        stage, t = self.stage, self.stage.table
        stage.mark_bad(
            f"{t}.referrer IS NOT NULL AND {t}.error IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM members_member m WHERE m.phone = {t}.referrer) "
            f"AND NOT EXISTS (SELECT 1 FROM {t} r WHERE r.phone = {t}.referrer)",
            _("No member has the referrer's phone %(phone)s, in this file or already registered."),
            phone=f"{t}.referrer",
        )
        for _round in range(50):
            marked = stage.mark_bad(
                f"{t}.referrer IS NOT NULL AND {t}.error IS NULL "
                f"AND NOT EXISTS (SELECT 1 FROM members_member m WHERE m.phone = {t}.referrer) "
                f"AND NOT EXISTS (SELECT 1 FROM {t} r WHERE r.phone = {t}.referrer AND r.error IS NULL)",
                _("The referrer's row (line %(line)s) is rejected."),
                line=f"(SELECT MIN(r.line) FROM {t} r WHERE r.phone = {t}.referrer)",
            )
            if not marked:
                break

    def _mark_changes(self) -> None:
        """For rows of existing members: do the member's fields differ (referrer included), the tags?"""
        stage, t, tt = self.stage, self.stage.table, self.stage.tags_table
        differs = stage.differs
        fields = " OR ".join(
            [
                differs(f"{t}.name", "m.name"),
                differs(f"{t}.gender", "m.gender"),
                differs(f"{t}.birthday", "m.birthday"),
                differs(f"{t}.email", "m.email"),
                differs(f"{t}.address", "m.address"),
                differs(f"{t}.notes", "m.notes"),
                differs(f"{t}.home_store", "m.home_store_id"),
                differs(f"{t}.registered_at", "m.registered_at"),
                f"({t}.referrer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members_member r "
                f"WHERE r.id = m.referrer_id AND r.phone = {t}.referrer))",
            ]
        )
        stage.execute(
            f"UPDATE {t} SET member_changed = TRUE, touched = TRUE FROM members_member m "
            f"WHERE m.id = {t}.member_id AND {t}.error IS NULL AND ({fields})"
        )
        member_tags = "members_member_tags mt JOIN members_tag tg ON tg.id = mt.tag_id"
        stage.execute(
            f"UPDATE {t} SET touched = TRUE WHERE error IS NULL AND member_id IS NOT NULL AND NOT touched "
            f"AND tags IS NOT NULL AND ("
            f"EXISTS (SELECT 1 FROM {tt} st WHERE st.line = {t}.line AND NOT EXISTS "
            f"(SELECT 1 FROM {member_tags} WHERE mt.member_id = {t}.member_id AND tg.name = st.name)) "
            f"OR EXISTS (SELECT 1 FROM {member_tags} WHERE mt.member_id = {t}.member_id AND NOT EXISTS "
            f"(SELECT 1 FROM {tt} st WHERE st.line = {t}.line AND st.name = tg.name)))"
        )

    # --- 3. write --------------------------------------------------------------------------------

    def write(self) -> None:
        self.report("writing")
        stage, t = self.stage, self.stage.table
        now = stage.param(self.now)
        new_members = self._assign_ids()
        stage.analyze()
        self._redraw_colliding_codes()
        before = self._members_estimate()
        updated = [
            "name",
            "gender",
            "birthday",
            "email",
            "address",
            "notes",
            "home_store_id",
            "registered_at",
            "referrer_id",
        ]
        # New members get the ids assigned above, so a referrer who is a new member of the same file is
        # known before either row is inserted (the foreign key is checked at commit). Where an imported
        # member first registered is not known: registration_store stays empty, registered_by is the
        # importer and the channel says "import".
        upsert = (
            "INSERT INTO members_member (id, code, phone, name, gender, birthday, email, address, notes, "
            "home_store_id, registration_store_id, registered_by_id, registration_channel, registered_at, "
            "referrer_id, status, marketing_consent, consent_source, updated_at) "
            f"SELECT s.member_id, s.new_code, s.phone, COALESCE(s.name, m.name), "
            f"COALESCE(s.gender, m.gender, 'unknown'), COALESCE(s.birthday, m.birthday), "
            f"COALESCE(s.email, m.email, ''), COALESCE(s.address, m.address, ''), COALESCE(s.notes, m.notes, ''), "
            f"COALESCE(s.home_store, m.home_store_id), NULL, %s, 'import', "
            f"COALESCE(s.registered_at, m.registered_at, %s), COALESCE(rm.id, rs.member_id, m.referrer_id), "
            f"'active', FALSE, '', %s "
            f"FROM {t} s LEFT JOIN members_member m ON m.id = s.member_id AND NOT s.created "
            f"LEFT JOIN members_member rm ON rm.phone = s.referrer "
            f"LEFT JOIN {t} rs ON rs.phone = s.referrer AND rs.error IS NULL "
            f"WHERE s.error IS NULL AND (s.created OR s.member_changed) ORDER BY {stage.c_order('s.phone')} "
            # A member registered at a till since the check is updated like the others; its empty
            # cells then take a new member's defaults.
            f"ON CONFLICT (phone) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in updated)
            + ", updated_at = excluded.updated_at WHERE "
            + " OR ".join(stage.distinct(f"members_member.{c}", f"excluded.{c}") for c in updated)
        )
        params = [self.actor_id, now, now]
        if stage.is_postgresql:
            (inserted,) = stage.fetchone(
                f"WITH up AS ({upsert} RETURNING (xmax = 0) AS inserted) SELECT COUNT(*) FROM up WHERE inserted",
                params,
            )
            if inserted != new_members:
                self.result.created -= new_members - inserted
                self.result.updated += new_members - inserted
                # Someone registered one of these phones at a till meanwhile: that member was updated
                # instead, under its own id.
                stage.execute(
                    f"UPDATE {t} SET member_id = m.id, created = FALSE, touched = TRUE FROM members_member m "
                    f"WHERE {t}.created AND m.phone = {t}.phone AND m.id <> {t}.member_id"
                )
        else:
            stage.execute(upsert, params)
        if new_members > max(1_000, before // 10):
            # The table grew by a tenth or more (a first import fills it): what follows joins it.
            stage.analyze("members_member")
        self._write_tags(now)
        for extension in import_extensions():
            extension.apply(stage, staff_id=self.actor_id, now=self.now)

    def _members_estimate(self) -> int:
        if not self.stage.is_postgresql:
            return 0
        (estimate,) = self.stage.fetchone("SELECT reltuples FROM pg_class WHERE oid = 'members_member'::regclass")
        return max(int(estimate), 0)

    def _assign_ids(self) -> int:
        """Ids for the new members, from the table's own sequence (PostgreSQL) or after its largest id
        (SQLite, whose other writers wait for this transaction's write lock)."""
        stage, t = self.stage, self.stage.table
        if stage.is_postgresql:
            # In phone order, as the rows are inserted below: the primary key and the phone indexes then
            # grow at their right edge instead of at random pages.
            return stage.execute(
                f"UPDATE {t} SET member_id = n.id, created = TRUE FROM (SELECT o.line, "
                f"nextval(pg_get_serial_sequence('members_member', 'id')) AS id FROM (SELECT line FROM {t} "
                f'WHERE error IS NULL AND member_id IS NULL ORDER BY phone COLLATE "C") o) n WHERE {t}.line = n.line'
            )
        (base,) = stage.fetchone(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM members_member), 0), "
            "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'members_member'), 0))"
        )
        return stage.execute(
            f"UPDATE {t} SET member_id = n.number + %s, created = TRUE FROM (SELECT line, ROW_NUMBER() "
            f"OVER (ORDER BY line) AS number FROM {t} WHERE error IS NULL AND member_id IS NULL) n "
            f"WHERE {t}.line = n.line",
            [base],
        )

    def _redraw_colliding_codes(self) -> None:
        """New members' codes were drawn at random while staging; redraw the few that collide with an
        existing member's code or with an earlier row's (about 5,000 in a million: eight random digits)."""
        stage, t = self.stage, self.stage.table
        redraw = f"{t}_codes"
        stage.execute(f"CREATE TEMP TABLE {redraw} (line integer PRIMARY KEY, code text)")
        # First every new row; then only the redrawn ones, against the members and every staged code.
        collisions = (
            f"SELECT c.line FROM (SELECT line, new_code, ROW_NUMBER() OVER (PARTITION BY new_code ORDER BY line) "
            f"AS nth FROM {t} WHERE created) c "
            f"WHERE c.nth > 1 OR EXISTS (SELECT 1 FROM members_member m WHERE m.code = c.new_code)"
        )
        for _round in range(20):
            lines = stage.fetchall(collisions)
            if not lines:
                stage.execute(f"DROP TABLE {redraw}")
                return
            codes = new_member_codes(len(lines))
            stage.execute(f"DELETE FROM {redraw}")
            with stage.connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {redraw} (line, code) VALUES (%s, %s)", [(line, next(codes)) for (line,) in lines]
                )
            stage.execute(f"UPDATE {t} SET new_code = r.code FROM {redraw} r WHERE {t}.line = r.line")
            stage.analyze(redraw)
            collisions = (
                f"SELECT r.line FROM {redraw} r WHERE EXISTS (SELECT 1 FROM members_member m WHERE m.code = r.code) "
                f"OR r.code IN (SELECT new_code FROM {t} WHERE created AND new_code IN (SELECT code FROM {redraw}) "
                f"GROUP BY new_code HAVING COUNT(*) > 1)"
            )
        raise ImportFileError(_("Could not allocate member codes; please try again."))

    def _write_tags(self, now) -> None:
        stage, t, tt = self.stage, self.stage.table, self.stage.tags_table
        good = f"{tt} st JOIN {t} s ON s.line = st.line AND s.error IS NULL AND (s.created OR s.touched)"
        stage.execute(
            f"INSERT INTO members_tag (name, created_at) SELECT DISTINCT st.name, %s FROM {good} "
            f"WHERE NOT EXISTS (SELECT 1 FROM members_tag tg WHERE tg.name = st.name) "
            f"ON CONFLICT (name) DO NOTHING",
            [now],
        )
        # The tags cell sets the member's tags: links to tags not in it go, missing ones come.
        stage.execute(
            f"DELETE FROM members_member_tags WHERE member_id IN ("
            f"SELECT s.member_id FROM {t} s WHERE s.error IS NULL AND s.touched AND s.tags IS NOT NULL) "
            f"AND NOT EXISTS (SELECT 1 FROM {good} JOIN members_tag tg ON tg.name = st.name "
            f"WHERE s.member_id = members_member_tags.member_id AND tg.id = members_member_tags.tag_id)"
        )
        stage.execute(
            f"INSERT INTO members_member_tags (member_id, tag_id) SELECT s.member_id, tg.id FROM {good} "
            f"JOIN members_tag tg ON tg.name = st.name WHERE TRUE ON CONFLICT (member_id, tag_id) DO NOTHING"
        )


# --- error report ------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe; plain numbers do not."""
    if cell.startswith(_FORMULA_START):
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
        writer.writerow([_("line"), _("reason"), *header.labels])
        reader = CsvReader(source)
        reader.header()
        reader.max_columns = header.width
        rows = iter(reader)
        row = next(rows, None)
        for line, error in stage.iter_errors():
            while row is not None and row.line < line:
                row = next(rows, None)
            cells = row.cells if row is not None and row.line == line else []
            writer.writerow([line, error, *(_spreadsheet_safe(c) for c in cells)])
        text.flush()
    finally:
        text.detach()
