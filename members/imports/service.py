"""members_import(): a members CSV, validated row by row as it streams, written set-based.

1. Read: the file streams through members.imports.reader (encoding, line endings, sizes); the header
   is matched to the columns (members.resources.import_columns: the member's fields and what other
   apps register, loyalty's opening balances), and the columns of a members export that the import
   must not write (the member code, status, tier …: members.resources.import_ignored_columns) are
   read past and named in the result; every cell goes through its column's widget, the same widgets
   MemberResource uses, after the apostrophe an export puts before = + - @ is taken off, and the row
   is written to the staging table with its problems (COPY on PostgreSQL). Nothing per row stays in
   Python memory.
2. Check, in SQL over the staging table: the same phone twice in the file (the later line is bad and
   names the first), which rows are existing members, a new member without a name, a registration
   time that is the member's own to the precision of the cell (no change), the extensions' checks
   (balances: opening ones only for members without history, else the current balance or nothing),
   referrers that are neither members nor good rows of the file, and what would change for existing
   members. A members export, edited or not, thus imports back changing only what was edited.
3. Write, when nothing is bad or bad rows are to be skipped, and this is not a dry run: member codes
   for new members (generated in bulk, collisions redrawn), one INSERT … ON CONFLICT (phone_index) DO
   UPDATE … WHERE something differs, tags and their links, referrers, then the extensions' writes
   (opening balances as ledger entries). The same file again changes nothing.

All of it runs in one transaction: in the default mode a single bad row leaves the database as it
was. Imports queue behind each other (an advisory lock on PostgreSQL, the write lock on SQLite).
Every import, written or not, leaves an audit row.
"""

from collections.abc import Callable
from typing import BinaryIO

from django.utils.translation import gettext as _

from members.codes import new_member_codes
from members.imports.columns import map_header
from members.imports.engine import (
    ALL_OR_NOTHING,
    BLANK_ROW,
    SKIP_BAD_ROWS,
    ImportProgress,
    ImportResult,
    ImportRun,
    run_import,
    write_error_report,
)
from members.imports.extensions import import_extensions
from members.imports.reader import ImportFileError
from members.imports.stage import Stage
from members.models import Member
from members.resources import import_columns, import_ignored_columns, prepare_widgets

__all__ = [
    "ALL_OR_NOTHING",
    "SKIP_BAD_ROWS",
    "ImportProgress",
    "ImportResult",
    "members_import",
    "write_error_report",
]

# What the staging table holds of the encrypted fields: the blind indexes the checks join on (the whole
# phone's, by which members are found, kept unique with ON CONFLICT and referred to; the whole name's, by
# which a changed name is told) and the birthday's month and day, kept in clear. The clear values stay in
# the TEMP table, on this connection only, for the checks (the same phone twice, a referrer among the
# file's rows, a changed email), and are dropped with it.
_STAGED_INDEXES = (
    ("birth_month", "integer"),
    ("birth_day", "integer"),
    ("name_whole_index", "digest"),
    ("phone_index", "digest"),
    ("referrer_index", "digest"),
)

# The stored text of the encrypted fields and the prefix indexes are made only for the rows the import
# writes, once the checks know which (a file imported again writes none), into a table of their own:
# the staging table is updated several times and every update copies its rows, which this keeps narrow.
_SEALED_FIELDS = {
    "phone": "phone_sealed",
    "name": "name_sealed",
    "email": "email_sealed",
    "address": "address_sealed",
    "birthday": "birthday_sealed",
}
_PHONE_PREFIXES = Member._meta.get_field("phone").prefix_indexes
_NAME_PREFIXES = Member._meta.get_field("name").prefix_indexes
_SEALED_COLUMNS = ("line", *_SEALED_FIELDS.values(), *_PHONE_PREFIXES, *_NAME_PREFIXES)
_SEAL_BATCH = 10_000

# Any number will do, as long as only member imports use it: they queue on it.
_ADVISORY_LOCK = 7_301_004


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
    return run_import(
        _Run,
        action="members",
        open_source=open_source,
        file_name=file_name,
        actor=actor,
        skip_bad_rows=skip_bad_rows,
        dry_run=dry_run,
        error_report=error_report,
        progress=progress,
        audit_target=audit_target,
    )


class _Run(ImportRun):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.columns = import_columns()
        prepare_widgets(self.columns, now=self.now)
        # The encrypted fields' stored text is made as each row is staged (one pass, no second read of
        # the staging table); the clear email, address and birthday stay in the TEMP table, on this
        # connection only, for the checks, and are dropped with it.
        self.stage = Stage(self.columns, fixed=(("new_code", "text"), *_STAGED_INDEXES))
        self._codes = new_member_codes(1 << 62)
        positions = self.stage.positions()
        self._birthday_at, self._birth_at = positions["birthday"], positions["birth_month"]
        self._name_field, self._phone_field = Member._meta.get_field("name"), Member._meta.get_field("phone")
        self._name_at, self._name_index_at = positions["name"], positions["name_whole_index"]
        self._phone_index_at, self._referrer_index_at = positions["phone_index"], positions["referrer_index"]

    # --- 1. read and stage -----------------------------------------------------------------------

    def stage_file(self, stream: BinaryIO) -> None:
        reader = self.reader(stream)
        self.header = map_header(reader.header().cells, self.columns, import_ignored_columns())
        reader.max_columns = self.header.width
        if self.stage.is_postgresql:
            self.stage.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        self.stage.tune()
        self.stage.create()
        self.report("reading")
        position = self.stage.positions()
        self._phone_at, self._referrer_at = position["phone"], position["referrer"]
        self._phone_label = self.label_of("phone")
        self.stage_rows(reader)
        self.result.encoding = reader.encoding
        if not self.result.rows:
            raise ImportFileError(_("The file has a header but no rows."))
        self.report("checking")
        self.stage.index("phone", "phone_index", "referrer_index")
        self.stage.explode_tags()
        self.stage.index_tags()

    def start_row(self, values: list) -> None:
        # A code for the member the row may create, drawn now (collisions are redrawn in SQL).
        values[2] = next(self._codes)

    def finish_row(self, values: list, cells: list[str], errors: list[str] | None):
        phone = values[self._phone_at]
        if phone is None and errors is None:
            if not "".join(cells).strip():
                return BLANK_ROW
            return [f"{self._phone_label}: {_('Enter a phone number.')}"]
        if phone is not None and values[self._referrer_at] == phone:
            errors = errors or []
            errors.append(_("A member cannot refer themselves."))
        if not errors:
            birthday = values[self._birthday_at]
            if birthday is not None:
                values[self._birth_at], values[self._birth_at + 1] = birthday.month, birthday.day
            name = values[self._name_at]
            if name is not None:
                values[self._name_index_at] = self._name_field.whole_digest(name)
            values[self._phone_index_at] = self._phone_field.whole_digest(phone)
            referrer = values[self._referrer_at]
            if referrer is not None:
                values[self._referrer_index_at] = self._phone_field.whole_digest(referrer)
        return errors

    # --- 2. check --------------------------------------------------------------------------------

    def check(self) -> None:
        stage, t = self.stage, self.stage.table
        # A new member needs a name; which rows are members already is known from their phone.
        stage.execute(f"UPDATE {t} SET member_id = m.id FROM members_member m WHERE m.phone_index = {t}.phone_index")
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
        result.errors = self.error_sample()
        self.report("checking")

    def _check_referrers(self) -> None:
        """A referrer must be a member already or a good row of the file; a referrer's bad row makes
        the rows it refers bad in turn (rounds until nothing changes)."""
        stage, t = self.stage, self.stage.table
        stage.mark_bad(
            f"{t}.referrer IS NOT NULL AND {t}.error IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM members_member m WHERE m.phone_index = {t}.referrer_index) "
            f"AND NOT EXISTS (SELECT 1 FROM {t} r WHERE r.phone = {t}.referrer)",
            _("No member has the referrer's phone %(phone)s, in this file or already registered."),
            phone=f"{t}.referrer",
        )
        for _round in range(50):
            marked = stage.mark_bad(
                f"{t}.referrer IS NOT NULL AND {t}.error IS NULL "
                f"AND NOT EXISTS (SELECT 1 FROM members_member m WHERE m.phone_index = {t}.referrer_index) "
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
                differs(f"{t}.name_whole_index", "m.name_whole_index"),
                differs(f"{t}.gender", "m.gender"),
                differs(f"{t}.notes", "m.notes"),
                differs(f"{t}.home_store", "m.home_store_id"),
                # The member's own registration time, as precisely as the cell can say it (an export has
                # whole seconds, Excel keeps minutes), is no change.
                f"({t}.registered_at IS NOT NULL AND NOT {stage.same_time(f'{t}.registered_at', 'm.registered_at')})",
                f"({t}.referrer IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members_member r "
                f"WHERE r.id = m.referrer_id AND r.phone_index = {t}.referrer_index))",
            ]
        )
        stage.execute(
            f"UPDATE {t} SET member_changed = TRUE, touched = TRUE FROM members_member m "
            f"WHERE m.id = {t}.member_id AND {t}.error IS NULL AND ({fields})"
        )
        self._mark_sealed_changes()
        member_tags = "members_member_tags mt JOIN members_tag tg ON tg.id = mt.tag_id"
        stage.execute(
            f"UPDATE {t} SET touched = TRUE WHERE error IS NULL AND member_id IS NOT NULL AND NOT touched "
            f"AND tags IS NOT NULL AND ("
            f"EXISTS (SELECT 1 FROM {tt} st WHERE st.line = {t}.line AND NOT EXISTS "
            f"(SELECT 1 FROM {member_tags} WHERE mt.member_id = {t}.member_id AND tg.name = st.name)) "
            f"OR EXISTS (SELECT 1 FROM {member_tags} WHERE mt.member_id = {t}.member_id AND NOT EXISTS "
            f"(SELECT 1 FROM {tt} st WHERE st.line = {t}.line AND st.name = tg.name)))"
        )

    def _mark_sealed_changes(self) -> None:
        """The encrypted fields are compared in Python: their stored text differs for equal values (a
        fresh nonce each time). Only rows of existing members not already changed that give one of them
        are read, with the member's stored values, in one streamed query."""
        stage, t = self.stage, self.stage.table
        fields = [Member._meta.get_field(name) for name in ("email", "address", "birthday")]
        staged = ", ".join(f"s.{f.name}" for f in fields)
        stored = ", ".join(f"m.{f.column}" for f in fields)
        rows = stage.iter_rows(
            f"SELECT s.line, {staged}, {stored} FROM {t} s JOIN members_member m ON m.id = s.member_id "
            f"WHERE s.error IS NULL AND NOT s.member_changed AND ("
            + " OR ".join(f"s.{f.name} IS NOT NULL" for f in fields)
            + ")"
        )
        count = len(fields)
        changed = []
        for line, *values in rows:
            for field, new, old in zip(fields, values[:count], values[count:], strict=True):
                if new is not None and field.to_python(new) != field.from_db_value(old, None, None):
                    changed.append((line,))
                    break
        if not changed:
            return
        table = f"{t}_sealed_changes"
        stage.execute(f"CREATE TEMP TABLE {table} (line integer NOT NULL)")
        stage.insert_rows(table, ["line"], changed)
        stage.execute(f"UPDATE {t} SET member_changed = TRUE, touched = TRUE WHERE line IN (SELECT line FROM {table})")
        stage.execute(f"DROP TABLE {table}")

    # --- 3. write --------------------------------------------------------------------------------

    def write(self) -> None:
        self.report("writing")
        stage, t = self.stage, self.stage.table
        now = stage.param(self.now)
        new_members = self._assign_ids()
        stage.analyze()
        self._redraw_colliding_codes()
        sealed = self._seal_rows_to_write()
        before = self._members_estimate()
        updated = [
            "name",
            *_NAME_PREFIXES,
            "name_whole_index",
            "gender",
            "birthday",
            "birth_month",
            "birth_day",
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
            f"INSERT INTO members_member (id, code, phone, {', '.join(_PHONE_PREFIXES)}, phone_index, "
            f"name, {', '.join(_NAME_PREFIXES)}, name_whole_index, gender, birthday, "
            "birth_month, birth_day, email, "
            "address, notes, "
            "home_store_id, registration_store_id, registered_by_id, registration_channel, registered_at, "
            "referrer_id, status, marketing_consent, consent_source, updated_at) "
            f"SELECT s.member_id, s.new_code, z.phone_sealed, {', '.join(f'z.{c}' for c in _PHONE_PREFIXES)}, "
            f"s.phone_index, COALESCE(z.name_sealed, m.name), "
            + "".join(f"CASE WHEN s.name IS NULL THEN m.{c} ELSE z.{c} END, " for c in _NAME_PREFIXES)
            + "CASE WHEN s.name IS NULL THEN m.name_whole_index ELSE s.name_whole_index END, "
            f"COALESCE(s.gender, m.gender, 'unknown'), COALESCE(z.birthday_sealed, m.birthday), "
            f"CASE WHEN s.birthday IS NULL THEN m.birth_month ELSE s.birth_month END, "
            f"CASE WHEN s.birthday IS NULL THEN m.birth_day ELSE s.birth_day END, "
            f"COALESCE(z.email_sealed, m.email, ''), COALESCE(z.address_sealed, m.address, ''), "
            f"COALESCE(s.notes, m.notes, ''), "
            f"COALESCE(s.home_store, m.home_store_id), NULL, %s, 'import', "
            f"CASE WHEN s.registered_at IS NULL OR {stage.same_time('s.registered_at', 'm.registered_at')} "
            f"THEN COALESCE(m.registered_at, s.registered_at, %s) ELSE s.registered_at END, "
            f"COALESCE(rm.id, rs.member_id, m.referrer_id), "
            f"'active', FALSE, '', %s "
            f"FROM {t} s JOIN {sealed} z ON z.line = s.line "
            f"LEFT JOIN members_member m ON m.id = s.member_id AND NOT s.created "
            f"LEFT JOIN members_member rm ON rm.phone_index = s.referrer_index "
            f"LEFT JOIN {t} rs ON rs.phone = s.referrer AND rs.error IS NULL "
            f"WHERE s.error IS NULL AND (s.created OR s.member_changed) ORDER BY s.phone_index "
            # A member registered at a till since the check is updated like the others; its empty
            # cells then take a new member's defaults.
            f"ON CONFLICT (phone_index) DO UPDATE SET "
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
                    f"WHERE {t}.created AND m.phone_index = {t}.phone_index AND m.id <> {t}.member_id"
                )
        else:
            stage.execute(upsert, params)
        stage.execute(f"DROP TABLE {sealed}")
        if new_members > max(1_000, before // 10):
            # The table grew by a tenth or more (a first import fills it): what follows joins it, by
            # these columns (its encrypted ones are many and wide; autovacuum analyzes them soon after).
            stage.analyze("members_member", columns=("id", "code", "phone_index", "home_store_id", "status"))
        self._write_tags(now)
        for extension in import_extensions():
            extension.apply(stage, staff_id=self.actor_id, now=self.now)

    def _seal_rows_to_write(self) -> str:
        """Encrypt the fields of the rows to be written, and make their prefix indexes, into a table of
        their own (by line), streamed in batches: the only place the import encrypts."""
        stage, t = self.stage, self.stage.table
        table = f"{t}_sealed"
        stage.execute(
            f"CREATE TEMP TABLE {table} (line integer PRIMARY KEY, "
            + ", ".join(f"{column} text" for column in _SEALED_FIELDS.values())
            + ", "
            + ", ".join(f"{column} {stage.sql_type('digest')}" for column in (*_PHONE_PREFIXES, *_NAME_PREFIXES))
            + ")"
        )
        fields = [Member._meta.get_field(name) for name in _SEALED_FIELDS]
        phone_field, name_field = self._phone_field, self._name_field
        rows = stage.iter_rows(
            f"SELECT line, {', '.join(_SEALED_FIELDS)} FROM {t} WHERE error IS NULL AND (created OR member_changed)"
        )
        batch = []
        for line, *values in rows:
            phone, name, *others = (field.to_python(value) for field, value in zip(fields, values, strict=True))
            batch.append(
                (
                    line,
                    *(field.seal(value) for field, value in zip(fields, (phone, name, *others), strict=True)),
                    *phone_field.prefix_digests(phone),
                    *name_field.prefix_digests(name),
                )
            )
            if len(batch) >= _SEAL_BATCH:
                stage.insert_rows(table, _SEALED_COLUMNS, batch)
                batch = []
        stage.insert_rows(table, _SEALED_COLUMNS, batch)
        stage.analyze(table)
        return table

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
            # In the order of the phone's blind index, as the rows are inserted below: the primary key grows
            # at its right edge, and the UNIQUE phone index is walked once from left to right instead of
            # at random pages.
            return stage.execute(
                f"UPDATE {t} SET member_id = n.id, created = TRUE FROM (SELECT o.line, "
                f"nextval(pg_get_serial_sequence('members_member', 'id')) AS id FROM (SELECT line FROM {t} "
                f"WHERE error IS NULL AND member_id IS NULL ORDER BY phone_index) o) n "
                f"WHERE {t}.line = n.line"
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
