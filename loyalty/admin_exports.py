"""Ledger exports in the back office: a page under the points ledger and one under the stored-value
ledger (a date range in local days, an optional store, the format), reachable from each list's
"Export" button and from the loyalty tools box. Staff with Action.EXPORT_DATA only (HQ admin, marketer);
the export itself is loyalty.exports.ledger_export_prepare: counted, audited, then streamed — or, too
large for one request, written in the background by an export job whose page the browser goes to
(members.export_jobs).
"""

from datetime import date, timedelta
from functools import partial

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from config.widgets import IsoDateInput
from loyalty.admin_views import _context
from loyalty.exports import LEDGER_EXPORT_KINDS, POINTS, WALLET, ledger_export_prepare
from loyalty.models import PointsEntry, WalletEntry
from members.export_jobs import export_job_create, export_runs_in_background
from members.phones import sees_full_phones
from stores.models import Store
from stores.permissions import staff_can
from stores.roles import Action

LEDGER_OF_MODEL = {PointsEntry: POINTS, WalletEntry: WALLET}


class LedgerExportForm(forms.Form):
    start = forms.DateField(label=capfirst(gettext_lazy("first day")), widget=IsoDateInput)
    end = forms.DateField(
        label=capfirst(gettext_lazy("last day (included)")),
        widget=IsoDateInput,
    )
    store = forms.ModelChoiceField(
        label=capfirst(gettext_lazy("store")),
        queryset=Store.objects.order_by("code"),
        required=False,
        empty_label=gettext_lazy("All stores"),
    )
    fmt = forms.ChoiceField(
        label=capfirst(gettext_lazy("format")),
        choices=[("csv", gettext_lazy("CSV (UTF-8, opens in Excel)")), ("xlsx", gettext_lazy("Excel workbook (XLSX)"))],
        initial="csv",
        widget=forms.RadioSelect,
    )
    headers = forms.ChoiceField(
        label=capfirst(gettext_lazy("headers")),
        choices=[("zh", "中文（时间、会员编号 …）"), ("en", "English (time, member_code …)")],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["headers"].initial = "zh" if (get_language() or "").startswith("zh") else "en"

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error(
                "end",
                ValidationError(
                    _("The last day (%(end)s) is before the first day (%(start)s)."),
                    code="invalid_range",
                    params={"start": start.isoformat(), "end": end.isoformat()},
                ),
            )
        return cleaned


def _initial_from_list(query) -> dict:
    """The ledger list's store and date filters, if it had any; otherwise this month so far."""
    today = timezone.localdate()
    initial = {"start": today.replace(day=1), "end": today}
    store = query.get("store__id__exact", "")
    if store.isdigit():
        initial["store"] = int(store)
    try:
        if query.get("created_at__gte"):
            initial["start"] = date.fromisoformat(query["created_at__gte"][:10])
        if query.get("created_at__lt"):
            initial["end"] = date.fromisoformat(query["created_at__lt"][:10]) - timedelta(days=1)
    except ValueError:
        pass
    return initial


def ledger_export_view(request, *, model_admin, ledger: str):
    if not staff_can(request.user, Action.EXPORT_DATA):
        raise PermissionDenied
    if request.method == "POST":
        form = LedgerExportForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                export = ledger_export_prepare(
                    actor=request.user,
                    ledger=ledger,
                    start=data["start"],
                    end=data["end"],
                    store=data["store"],
                    fmt=data["fmt"],
                    language=data["headers"],
                    source="admin",
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if not export_runs_in_background(export):
                    return export.http_response()
                job = export_job_create(
                    actor=request.user,
                    kind=LEDGER_EXPORT_KINDS[ledger],
                    export=export,
                    start=data["start"],
                    end=data["end"],
                    store=data["store"],
                    language=get_language() or "zh-hans",
                )
                return redirect("admin:members_exportjob_change", job.pk)
    else:
        form = LedgerExportForm(initial=_initial_from_list(request.GET))
    title = _("Export the points ledger") if ledger == POINTS else _("Export the stored-value ledger")
    return TemplateResponse(
        request,
        "admin/loyalty/ledger_export.html",
        _context(
            request,
            model_admin,
            title,
            form=form,
            ledger=ledger,
            full_phones=sees_full_phones(request.user),
        ),
    )


class LedgerExportAdminMixin:
    """Mixed into PointsEntryAdmin and WalletEntryAdmin: the export page's URL and the list's button."""

    def get_urls(self):
        view = self.admin_site.admin_view(
            partial(ledger_export_view, model_admin=self, ledger=LEDGER_OF_MODEL[self.model])
        )
        return [path("export/", view, name=f"loyalty_{self.opts.model_name}_export"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_export_ledger": staff_can(request.user, Action.EXPORT_DATA)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})
