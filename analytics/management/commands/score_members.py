import datetime as dt

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from tqdm import tqdm

from analytics.exports import churn_report_export
from analytics.services import ScoringError, score_members
from config import tabular

STEPS = 4


class Command(BaseCommand):
    help = (
        "Recompute RFM and churn scores as of a date (today by default); --report writes the churn report "
        "(CSV or XLSX), with phones masked unless the --as login may see them, audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="YYYY-MM-DD (local business day); today by default")
        parser.add_argument(
            "--report", help="write the churn report to this file: CSV (UTF-8 with BOM), or XLSX when it ends in .xlsx"
        )
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="the staff login the report is for: it needs a role that may export, decides whether phones are "
            "written in full (HQ admin) or masked, and is named in the audit trail; without it phones are masked",
        )
        parser.add_argument(
            "--headers",
            choices=["zh", "en"],
            default="zh",
            help="language of the report's headers and labels: zh (手机号, 高 …, the default) or en (Phone, High …)",
        )

    def handle(self, *args, as_of=None, report=None, username=None, headers="zh", **options):
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise CommandError(f"No active staff login “{username}”.")
        day = None
        if as_of:
            try:
                day = dt.date.fromisoformat(as_of)
            except ValueError:
                raise CommandError(_("--as-of must be a date such as 2026-12-01.")) from None
        bar = tqdm(total=STEPS, disable=options.get("verbosity", 1) < 1, file=self.stderr)

        def progress(step):
            bar.set_description(str(step))
            bar.update(1)

        try:
            result = score_members(as_of=day, progress=progress)
        except ScoringError as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        if result.skipped:
            raise CommandError(result.note)
        if result.note:
            self.stdout.write(result.note)
        self.stdout.write(
            _("Scored %(members)d members as of %(date)s; %(risk)d at risk.")
            % {"members": result.members, "date": result.as_of, "risk": result.at_risk}
        )
        if result.fit:
            f = result.fit
            self.stdout.write(f"BG/NBD: r={f.r:.3f} alpha={f.alpha:.3f} a={f.a:.3f} b={f.b:.3f}")
        for segment, count in sorted(result.segments.items()):
            self.stdout.write(f"  {segment}: {count}")
        if report:
            fmt = tabular.XLSX if str(report).lower().endswith(".xlsx") else tabular.CSV
            try:
                # The audit row stands only if the file was written.
                with transaction.atomic():
                    export = churn_report_export(
                        actor=actor, fmt=fmt, language=headers, filters={"command": "score_members --report"}
                    )
                    export.write_to(report)
            except (ValidationError, PermissionDenied, OSError) as error:
                raise CommandError(" ".join(getattr(error, "messages", [str(error)]))) from error
            rows = export.count
            phones = _("full phones") if export.details["full_phones"] else _("phones masked")
            self.stdout.write(
                _("Wrote %(rows)d rows to %(file)s (%(phones)s).") % {"rows": rows, "file": report, "phones": phones}
            )
