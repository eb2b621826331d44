"""What the import commands (import_members, import_sales) share: arguments, progress bar, summary."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from tqdm import tqdm

from members.imports.engine import ImportResult
from members.imports.reader import ImportFileError
from stores.permissions import staff_can
from stores.roles import Action

SHOWN_ERRORS = 20


class ImportCommand(BaseCommand):
    """Subclasses set `action` (what the --as login's role must allow), `actor_required`, and
    implement run_import(**arguments) with the arguments members_import() takes."""

    action: Action
    actor_required = False
    # What the file holds, for messages: "members", "purchase history".
    what = "members"
    # How the summary names what `created` and `unchanged` count.
    counted = {"created": "created", "updated": "updated", "unchanged": "unchanged"}

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and count what would be created, updated and rejected"
        )
        parser.add_argument(
            "--skip-bad-rows", action="store_true", help="write the good rows and report the bad ones (default: none)"
        )
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            required=self.actor_required,
            help="the staff login recorded as importer (HQ admin)",
        )
        parser.add_argument(
            "--error-report", metavar="FILE", help="write the bad rows (line, reason, their cells) to this CSV"
        )
        parser.add_argument(
            "--language",
            choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE,
            help="language of the reasons (default %(default)s)",
        )

    def run_import(self, **arguments) -> ImportResult:
        raise NotImplementedError

    def import_options(self, options: dict) -> dict:
        """The subclass's own arguments, as run_import() takes them."""
        return {}

    def handle(self, *args, file, dry_run, skip_bad_rows, username, error_report, language, verbosity, **options):
        if not os.path.isfile(file):
            raise CommandError(f"{file}: no such file")
        actor = self._actor(username)
        bar = tqdm(
            total=os.path.getsize(file),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="reading",
            file=self.stderr._out,
            disable=verbosity == 0,
            mininterval=0.5,
        )
        # A disabled bar (verbosity 0) has no description to compare with: remember the phase here.
        seen = {"bytes": 0, "phase": "reading"}

        def progress(p):
            if p.phase != seen["phase"]:
                seen["phase"] = p.phase
                bar.set_description(p.phase, refresh=False)
            if p.bytes_read > seen["bytes"]:
                bar.update(p.bytes_read - seen["bytes"])
                seen["bytes"] = p.bytes_read
            bar.set_postfix(rows=p.rows, bad=p.rejected, refresh=False)

        report = open(error_report, "wb") if error_report else None  # noqa: SIM115
        try:
            with translation.override(language):
                result = self.run_import(
                    open_source=lambda: open(file, "rb"),  # noqa: SIM115
                    file_name=os.path.basename(file),
                    actor=actor,
                    skip_bad_rows=skip_bad_rows,
                    dry_run=dry_run,
                    error_report=report,
                    progress=progress,
                    **self.import_options(options),
                )
        except ImportFileError as error:
            raise CommandError(f"{file}: {error.message}", returncode=1) from None
        finally:
            bar.close()
            if report is not None:
                report.close()
        self._summary(result, error_report)
        if result.rejected:
            raise CommandError(
                f"{result.rejected} of {result.rows} rows rejected"
                + ("" if result.written or dry_run else "; nothing was written"),
                returncode=1,
            )

    def _actor(self, username):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--as {username}: no active staff login with that name")
        if not staff_can(user, self.action):
            raise CommandError(f"--as {username}: this login's role may not import {self.what}")
        return user

    def _summary(self, result: ImportResult, error_report):
        if result.dry_run:
            head = "Dry run, nothing written"
        elif result.written:
            head = "Imported"
        else:
            head = "Nothing written (all or nothing: bad rows; use --skip-bad-rows to write the good ones)"
        self.stdout.write(
            f"{head}: {result.file_name} ({result.encoding}), {result.rows} rows in {result.seconds:.1f} s"
        )
        would = "" if result.written else "would be "
        counts = [
            f"{would}{self.counted['created']} {result.created}",
            *([f"{would}{self.counted['updated']} {result.updated}"] if self.counted.get("updated") else []),
            f"{self.counted['unchanged']} {result.unchanged}",
            f"rejected {result.rejected}",
        ]
        self.stdout.write("  " + ", ".join(counts))
        for label, value in result.extra:
            self.stdout.write(f"  {label}: {value}")
        for line, reason in result.errors[:SHOWN_ERRORS]:
            self.stderr.write(f"line {line}: {reason}")
        if result.rejected > SHOWN_ERRORS:
            more = result.rejected - SHOWN_ERRORS
            where = f"all of them are in {error_report}" if error_report else "--error-report FILE lists them all"
            self.stderr.write(f"… and {more} more bad rows; {where}")
