"""export_ledger: the points or stored-value ledger of a date range, for accountants; streamed, audited."""

from django.core.management.base import CommandError

from config.export_commands import ExportCommand
from loyalty.exports import LEDGERS, ledger_export_prepare
from stores.models import Store


class Command(ExportCommand):
    help = (
        "Export the points ledger or the stored-value ledger between two local days (China time, both "
        "included), oldest first, optionally of one store, to CSV (UTF-8 with BOM) or XLSX. Columns: time, "
        "member code, name, phone (masked unless the --as login may see it), kind, points and debt change or "
        "principal and bonus, store code, staff, sale id, reason. Audited."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--ledger", required=True, choices=list(LEDGERS), help="points or wallet (stored value)")
        parser.add_argument("--from", dest="start", required=True, metavar="DATE", help="first local day, YYYY-MM-DD")
        parser.add_argument(
            "--to", dest="end", required=True, metavar="DATE", help="last local day, YYYY-MM-DD (included)"
        )
        parser.add_argument("--store", metavar="CODE", help="only entries recorded at this store")

    def handle(self, *args, file, fmt, username, headers, chunk_size, verbosity, ledger, start, end, store, **options):
        path, fmt = self.target(file, fmt)
        actor = self.actor(username)
        first, last = self.day(start, "--from"), self.day(end, "--to")
        store_obj = None
        if store:
            store_obj = Store.objects.filter(code=store.strip()).first()
            if store_obj is None:
                raise CommandError(f"Unknown store code “{store}”.")
        if chunk_size is not None and chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        export = self.prepare(
            ledger_export_prepare,
            actor=actor,
            ledger=ledger,
            start=first,
            end=last,
            store=store_obj,
            fmt=fmt,
            language=headers,
            source="command",
            chunk_size=chunk_size,
        )
        seconds = self.write(export, path, verbosity=verbosity, unit="entries")
        if verbosity >= 1:
            where = f" at {store_obj.code}" if store_obj else ""
            phones = "full phones" if export.details["full_phones"] else "phones masked"
            self.summary(
                f"Exported {export.count:,} {ledger} ledger entries from {first} to {last}{where} to {path} "
                f"({fmt.upper()}, {phones}) in {seconds:.1f} s; audit entry #{export.audit_id}."
            )
