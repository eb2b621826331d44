"""What the export commands (export_members, export_ledger) share: the file, its format, who exports,
the header language, a progress bar on stderr and the summary at the end.

Everything the command line gives is checked before any file is opened: a refused export writes no
file and no audit row, and exits with status 1 and one clear line on stderr (CommandError).
"""

import sys
import time
from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from config.tabular import TabularExport, export_format


def validation_message(error: ValidationError) -> str:
    return " ".join(error.messages)


class ExportCommand(BaseCommand):
    file_help = "where to write the file (.csv or .xlsx)"

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help=self.file_help)
        parser.add_argument("--format", dest="fmt", default=None, help="csv or xlsx (default: from FILE's extension)")
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            metavar="USERNAME",
            help="the staff login doing the export: it needs a role that may export (HQ admin or marketer), "
            "decides whether phones are masked, and is named in the audit trail",
        )
        parser.add_argument(
            "--headers",
            choices=["zh", "en"],
            default="zh",
            help="header language: zh (手机号, 姓名 …, the default) or en (phone, name …)",
        )
        parser.add_argument("--chunk-size", type=int, default=None, help="rows read per query (default 2000)")

    # --- checks, all before anything is written ----------------------------------------------

    def actor(self, username: str):
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active staff login “{username}”.")
        return user

    def target(self, file: str, fmt: str | None) -> tuple[Path, str]:
        path = Path(file).expanduser()
        try:
            fmt = export_format(fmt, filename=path)
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        if path.is_dir():
            raise CommandError(f"{path} is a directory: give a file name.")
        if not path.parent.is_dir():
            raise CommandError(f"The directory {path.parent} does not exist.")
        return path, fmt

    @staticmethod
    def day(value: str | None, option: str) -> date | None:
        if value in (None, ""):
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"{option} {value!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-31.") from None

    def prepare(self, function, **kwargs) -> TabularExport:
        """Call an export service's prepare(); its refusals become CommandErrors."""
        try:
            return function(**kwargs)
        except PermissionDenied as error:
            raise CommandError(f"{kwargs.get('actor')}: {error or 'your role does not allow exports.'}") from None
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None

    # --- the writing -------------------------------------------------------------------------

    def write(self, export: TabularExport, path: Path, *, verbosity: int, unit: str) -> float:
        from tqdm import tqdm

        started = time.perf_counter()
        with tqdm(
            total=export.count,
            unit=f" {unit}",
            file=getattr(self.stderr, "_out", sys.stderr),
            disable=verbosity < 1,
            desc=path.name,
        ) as bar:
            export.write_to(path, on_chunk=bar.update)
        return time.perf_counter() - started

    def summary(self, text: str) -> None:
        self.stdout.write(self.style.SUCCESS(text))
