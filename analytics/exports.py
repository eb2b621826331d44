"""Exports of the analytics app, each audited in the transaction that hands its rows out (DESIGN §5:
an export is a sensitive action): a dashboard's table, and the churn report (admin or --report)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.dashboards.base import Scope, Table
from analytics.report import LANGUAGES, churn_report_rows
from config import tabular
from members.phones import sees_full_phones
from stores.permissions import staff_can
from stores.roles import Action
from stores.services import audit_record

DASHBOARD_EXPORTED = "analytics.dashboard_exported"
CHURN_REPORT_EXPORTED = "analytics.churn_report_exported"


@transaction.atomic
def dashboard_table_export(
    *, actor, dashboard_slug: str, table: Table, scope: Scope, fmt: str
) -> tabular.TabularExport:
    """`fmt` as asked ("csv", "xlsx"); ValidationError for another, before anything is audited."""
    fmt = tabular.export_format(fmt)
    rows = table.export_rows()
    audit_record(
        actor=actor,
        action=DASHBOARD_EXPORTED,
        data={
            "dashboard": dashboard_slug,
            "table": table.key,
            "format": fmt,
            "rows": len(rows),
            "start": scope.start.isoformat(),
            "end": scope.end.isoformat(),
            "stores": sorted(scope.store_ids) if scope.store_ids is not None else None,
        },
    )
    return tabular.TabularExport(
        headers=[c.export_label for c in table.columns],
        kinds=[c.export_kind for c in table.columns],
        chunks=lambda: iter([rows]),
        count=len(rows),
        fmt=fmt,
        filename=f"{dashboard_slug}-{table.key}-{scope.start}-{scope.end}-{timezone.localdate()}.{fmt}",
    )


@transaction.atomic
def churn_report_export(
    *, actor, queryset=None, fmt: str = tabular.CSV, language: str = "zh", filters: dict | None = None
):
    """The churn report's rows (all, or `queryset`'s), headers and labels in `language` ("zh" or "en"),
    phones as `actor`'s role may read them (masked for the command line without a login). PermissionDenied
    or ValidationError (an unknown format or language, an XLSX too long for a sheet) before anything is
    audited; the audit row says whether the phones were full or masked."""
    if actor is not None and not staff_can(actor, Action.EXPORT_DATA):
        raise PermissionDenied(_("Your role does not allow exports."))
    fmt = tabular.export_format(fmt)
    if language not in LANGUAGES:
        raise ValidationError(
            _("Unknown header language “%(language)s”: choose zh or en."),
            code="unknown_language",
            params={"language": language},
        )
    full_phones = sees_full_phones(actor)
    export = churn_report_rows(
        queryset,
        full_phones=full_phones,
        language=language,
        fmt=fmt,
        filename=f"churn-report-{timezone.localdate()}.{fmt}",
    )
    entry = audit_record(
        actor=actor,
        action=CHURN_REPORT_EXPORTED,
        data={
            "rows": export.count,
            "format": fmt,
            "headers": language,
            "phones": "full" if full_phones else "masked",
            "filters": filters or {},
        },
    )
    export.audit_id = entry.pk
    return export
