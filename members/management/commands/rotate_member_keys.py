"""Re-encrypt the members' personal data under the current key (README, "Keys of the member data").

Every encrypted column of every model (members.fields: the members' own, and the outbox's recipients,
subjects and texts in campaigns.models.Message) is walked in primary-key order, in batches of one
short transaction each that lock only their own rows, so tills and the back office keep working. Only
rows holding a value under an older key are read (their stored text does not start with the current key
id), so a run that was interrupted, or a second run, starts where values are still to re-encrypt.
"""

import time

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from tqdm import tqdm

from members import crypto
from members.fields import EncryptedMixin


def encrypted_tables() -> list[tuple[str, str, list]]:
    """(table, primary key column, encrypted fields) of every model that has encrypted fields."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]
        if fields and not model._meta.proxy:
            found.append((model._meta.db_table, model._meta.pk.column, fields))
    return found


def _stale_condition(fields: list, quote) -> str:
    # LIKE's wildcards cannot occur in a key id (members.crypto.KEY_ID allows letters, digits, _ and -;
    # "_" is escaped), so the pattern is the key id and a colon, then anything.
    return " OR ".join(f"({quote(f.column)} <> '' AND {quote(f.column)} NOT LIKE %s ESCAPE '\\')" for f in fields)


def _current_prefix() -> str:
    return crypto.keyring().current_key_id.replace("_", "\\_") + ":%"


def stale_rows(table: str, fields: list) -> int:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {quote(table)} WHERE {_stale_condition(fields, quote)}",
            [_current_prefix()] * len(fields),
        )
        return cursor.fetchone()[0]


def rotate_batch(table: str, pk: str, fields: list, *, after: int, size: int) -> tuple:
    """Re-encrypt up to `size` rows past `after` that hold a value under an older key, in one transaction.
    Returns (the last primary key read or None when done, rows read, rows rewritten, values rewritten,
    problems)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    rewritten_rows = rewritten_values = 0
    problems: list[str] = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote(pk)}, {columns} FROM {quote(table)} WHERE {quote(pk)} > %s "
                f"AND ({_stale_condition(fields, quote)}) ORDER BY {quote(pk)} LIMIT %s{lock}",
                [after, *[_current_prefix()] * len(fields), size],
            )
            rows = cursor.fetchall()
        if not rows:
            return None, 0, 0, 0, []
        updates = []
        for key, *values in rows:
            new = []
            for field, value in zip(fields, values, strict=True):
                if value in (None, "") or crypto.is_current(value):
                    new.append(value)
                    continue
                try:
                    new.append(crypto.encrypt(crypto.decrypt(value, purpose=field.purpose), purpose=field.purpose))
                    rewritten_values += 1
                except crypto.UndecryptableValue as error:
                    problems.append(f"{table} {key}: {error}")
                    new.append(value)
            if new != values:
                updates.append((*new, key))
        if updates:
            assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            with connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {quote(table)} SET {assignments} WHERE {quote(pk)} = %s", updates)
            rewritten_rows = len(updates)
    return rows[-1][0], len(rows), rewritten_rows, rewritten_values, problems


class Command(BaseCommand):
    help = (
        "Re-encrypt the members' personal data still under an older key with the current one (the first of "
        "MEMBER_DATA_KEYS), in short batches, while the product runs. Interrupted, it can be run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1_000, help="rows per transaction (1,000)")
        parser.add_argument("--pause", type=float, default=0.0, help="seconds to wait between batches")
        parser.add_argument("--dry-run", action="store_true", help="only count the rows under an older key")

    def handle(self, *args, batch_size: int, pause: float, dry_run: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size is at least 1.")
        ring = crypto.keyring()
        tables = encrypted_tables()
        stale = {table: stale_rows(table, fields) for table, _pk, fields in tables}
        total = sum(stale.values())
        if dry_run or not total:
            self.stdout.write(
                f"{total:,} rows hold values under a key older than {ring.current_key_id!r}"
                + (" (dry run: nothing changed)." if dry_run else "; nothing to do.")
            )
            return
        rows_done = values_done = 0
        problems: list[str] = []
        with tqdm(total=total, unit="rows", disable=options["verbosity"] < 1, file=self.stderr) as bar:
            for table, pk, fields in tables:
                after = 0
                while True:
                    after, read, rows, values, found = rotate_batch(table, pk, fields, after=after, size=batch_size)
                    if after is None:
                        break
                    rows_done, values_done = rows_done + rows, values_done + values
                    problems.extend(found)
                    bar.update(read)
                    if pause:
                        time.sleep(pause)
        left = sum(stale_rows(table, fields) for table, _pk, fields in tables)
        self.stdout.write(
            f"Re-encrypted {values_done:,} values in {rows_done:,} rows under the key {ring.current_key_id!r}; "
            f"{left:,} rows still hold values under an older key."
        )
        for problem in problems[:20]:
            self.stderr.write(problem)
        if problems:
            raise CommandError(
                f"{len(problems):,} values could not be decrypted (their key is not in MEMBER_DATA_KEYS, or they "
                "were altered); they were left as they are."
            )
        if not left:
            self.stdout.write("Every value is under the current key: the older keys can be removed.")
