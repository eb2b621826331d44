"""export_members FILE: members to CSV or XLSX, filtered like the admin list, streamed, audited."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from config.export_commands import ExportCommand, validation_message
from members.exports import (
    filters_querystring,
    member_export_columns,
    member_export_prepare,
    member_export_queryset,
)
from members.models import Member, Tag
from stores.models import Store


def _columns_help() -> str:
    return ", ".join(f"{c.key} ({c.header_zh})" + ("" if c.default else "*") for c in member_export_columns())


class Command(ExportCommand):
    help = (
        "Export members to a CSV (UTF-8 with BOM, opens in Excel) or XLSX file, with the admin list's filters. "
        "Rows are streamed, never held in memory; phones are masked unless the --as login may see them; "
        "cells that a spreadsheet would run as a formula are neutralised; every export is audited."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--columns",
            default="",
            help="comma-separated columns, by key or header, in the file's order (default: those without *): "
            + _columns_help(),
        )
        parser.add_argument("--store", metavar="CODE", help="members whose home store has this code")
        parser.add_argument("--tag", metavar="NAME", help="members with this tag")
        parser.add_argument("--status", choices=Member.Status.values, help="active or frozen members only")
        parser.add_argument("--registered-from", metavar="DATE", help="registered on or after this local day")
        parser.add_argument("--registered-to", metavar="DATE", help="registered on or before this local day")
        parser.add_argument(
            "--search", default="", metavar="TEXT", help="as the admin's search box: phone or its start, code, name"
        )

    def handle(self, *args, file, fmt, username, headers, chunk_size, verbosity, **options):
        path, fmt = self.target(file, fmt)
        actor = self.actor(username)
        store = tag = None
        if options["store"]:
            store = Store.objects.filter(code=options["store"].strip()).first()
            if store is None:
                raise CommandError(f"Unknown store code “{options['store']}”.")
        if options["tag"]:
            tag = Tag.objects.filter(name=options["tag"].strip()).first()
            if tag is None:
                raise CommandError(f"Unknown tag “{options['tag']}”.")
        registered_from = self.day(options["registered_from"], "--registered-from")
        registered_to = self.day(options["registered_to"], "--registered-to")
        if chunk_size is not None and chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        try:
            queryset = member_export_queryset(
                store=store,
                tag=tag,
                status=options["status"],
                registered_from=registered_from,
                registered_to=registered_to,
                search=options["search"],
            )
        except ValidationError as error:
            raise CommandError(validation_message(error)) from None
        filters = filters_querystring(
            store=store.code if store else None,
            tag=tag.name if tag else None,
            status=options["status"],
            registered_from=registered_from,
            registered_to=registered_to,
            search=options["search"].strip(),
        )
        export = self.prepare(
            member_export_prepare,
            actor=actor,
            queryset=queryset,
            columns=options["columns"],
            fmt=fmt,
            language=headers,
            filters=filters,
            source="command",
            chunk_size=chunk_size,
        )
        seconds = self.write(export, path, verbosity=verbosity, unit="members")
        if verbosity >= 1:
            phones = "full phones" if export.details["full_phones"] else "phones masked"
            rate = f", {export.count / seconds:,.0f} rows/s" if seconds > 0 and export.count else ""
            self.summary(
                f"Exported {export.count:,} members to {path} ({fmt.upper()}, {len(export.headers)} columns, "
                f"{phones}) in {seconds:.1f} s{rate}; audit entry #{export.audit_id}."
            )
