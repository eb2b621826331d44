"""Custom pages of the loyalty back office, mounted by loyalty.admin under the loyalty app's URLs:

- manual points adjustment (staff who may ADJUST_POINTS), through loyalty.services.points_adjust;
- recharge report: top-ups and stored-value spend by store, staff, day and package, with a CSV;
- downgrade risk: members who will drop a tier at an evaluation within N days unless they spend more.

The views check and show; every write goes through a service.
"""

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from loyalty.forms import DateRangeForm, DowngradeRiskForm, PointsAdjustmentForm
from loyalty.models import PointsAccount, Tier, TierPolicy, WalletEntry
from loyalty.selectors import members_at_downgrade_risk
from loyalty.services import points_adjust
from members.phones import phone_for
from stores.names import staff_label
from stores.permissions import staff_can
from stores.roles import Action
from stores.services import audit_record


def _context(request, model_admin, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        # Marketers open the reports but neither the loyalty lists nor the app page: the breadcrumbs
        # link only what the reader may open.
        "can_open_app": request.user.has_module_perms(model_admin.opts.app_label),
        "can_open_changelist": model_admin.has_view_or_change_permission(request),
        **extra,
    }


# --- manual adjustment ------------------------------------------------------------------------


def points_adjust_view(request, *, model_admin):
    if not staff_can(request.user, Action.ADJUST_POINTS):
        raise PermissionDenied
    if request.method == "POST":
        form = PointsAdjustmentForm(request.POST)
        if form.is_valid():
            member = form.member_obj
            try:
                entry = points_adjust(
                    request_id=form.cleaned_data["request_id"],
                    member=member,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                available = PointsAccount.objects.filter(pk=member.pk).values_list("available", flat=True).first()
                messages.success(
                    request,
                    _("%(points)+d points for %(member)s (%(code)s); %(available)d available now.")
                    % {"points": entry.points, "member": member.name, "code": member.code, "available": available or 0},
                )
                return redirect("admin:loyalty_points_adjust")
    else:
        form = PointsAdjustmentForm(initial={"member": request.GET.get("member", "")[:64]})
    return TemplateResponse(
        request,
        "admin/loyalty/points_adjust.html",
        _context(request, model_admin, _("Manual points adjustment"), form=form),
    )


# --- recharge report --------------------------------------------------------------------------

TOP_UP, SPEND, RESTORE = WalletEntry.Kind.TOP_UP, WalletEntry.Kind.SPEND, WalletEntry.Kind.RESTORE
ZERO = Decimal("0.00")

COLUMNS = [
    ("topups", pgettext_lazy("recharge report column: how many", "top-ups")),
    ("paid", gettext_lazy("paid in")),
    ("bonus_given", gettext_lazy("bonus given")),
    ("spent_principal", gettext_lazy("spent: principal")),
    ("spent_bonus", gettext_lazy("spent: bonus")),
    ("restored", gettext_lazy("refunded back")),
    ("net_spend", gettext_lazy("net spend")),
]
PACKAGE_COLUMNS = COLUMNS[:3]


def _shown(value) -> str:
    if isinstance(value, int):
        return number_format(value, force_grouping=True)
    return number_format(value, decimal_pos=2, force_grouping=True)


@dataclass
class ReportTable:
    key: str
    title: str
    label: str
    columns: list[tuple[str, str]]
    rows: list[dict] = field(default_factory=list)
    totals: dict = field(default_factory=dict)

    @property
    def total_cells(self) -> list[str]:
        return [_shown(self.totals[key]) for key, _label in self.columns]

    def finish(self) -> "ReportTable":
        for row in self.rows:
            row["cells"] = [_shown(row[key]) for key, _label in self.columns]
        self.totals = {
            key: sum((row[key] for row in self.rows), 0 if key == "topups" else ZERO) for key, _label in self.columns
        }
        return self


def _measures() -> dict:
    return {
        "topups": Count("pk", filter=Q(kind=TOP_UP)),
        "paid": Sum("principal", filter=Q(kind=TOP_UP), default=ZERO),
        "bonus_given": Sum("bonus", filter=Q(kind=TOP_UP), default=ZERO),
        "spent_principal": Sum("principal", filter=Q(kind=SPEND), default=ZERO),
        "spent_bonus": Sum("bonus", filter=Q(kind=SPEND), default=ZERO),
        "restored": Sum(F("principal") + F("bonus"), filter=Q(kind=RESTORE), default=ZERO),
    }


def _finish(row: dict) -> dict:
    # Spending is stored as negative movements; the report shows what left the wallets as positive.
    row["spent_principal"] = -(row.get("spent_principal") or ZERO)
    row["spent_bonus"] = -(row.get("spent_bonus") or ZERO)
    row["restored"] = row.get("restored") or ZERO
    row["net_spend"] = row["spent_principal"] + row["spent_bonus"] - row["restored"]
    return row


def _local_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        timezone.make_aware(datetime.combine(start, time.min)),
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)),
    )


def _staff_label(row) -> str:
    if row["staff_id"] is None:
        return _("(no staff)")
    return staff_label(row["staff__first_name"], row["staff__last_name"], row["staff__username"])


def _by_store(entries) -> ReportTable:
    rows = entries.values("store_id", "store__code", "store__name").annotate(**_measures()).order_by("store__code")
    return ReportTable(
        "store",
        _("By store"),
        _("store"),
        COLUMNS,
        [
            {"label": f"{r['store__code']} {r['store__name']}" if r["store_id"] else _("(no store)"), **_finish(r)}
            for r in rows
        ],
    )


def _by_staff(entries) -> ReportTable:
    rows = (
        entries.values("staff_id", "staff__username", "staff__first_name", "staff__last_name")
        .annotate(**_measures())
        .order_by("staff__username")
    )
    return ReportTable(
        "staff", _("By staff"), _("staff"), COLUMNS, [{"label": _staff_label(r), **_finish(r)} for r in rows]
    )


def _by_day(entries) -> ReportTable:
    rows = (
        entries.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(**_measures())
        .order_by("day")
    )
    return ReportTable(
        "day", _("By day"), _("day"), COLUMNS, [{"label": r["day"].isoformat(), **_finish(r)} for r in rows]
    )


def _by_package(entries) -> ReportTable:
    measures = {key: value for key, value in _measures().items() if key in dict(PACKAGE_COLUMNS)}
    rows = (
        entries.filter(kind=TOP_UP)
        .values("topup__package_id", "topup__package__name")
        .annotate(**measures)
        .order_by("topup__package__name")
    )
    return ReportTable(
        "package",
        _("Top-ups by package"),
        _("package"),
        PACKAGE_COLUMNS,
        [{"label": r["topup__package__name"] or _("Custom amount (no package)"), **r} for r in rows],
    )


# The long table last.
REPORT_TABLES = {"store": _by_store, "staff": _by_staff, "package": _by_package, "day": _by_day}


def recharge_report(start: date, end: date, tables: list[str] | None = None) -> list[ReportTable]:
    """Top-ups and stored-value spend between two local days (both included): one aggregate query
    per table, all over the stored-value ledger, so the figures agree with the wallets to the cent."""
    since, until = _local_bounds(start, end)
    entries = WalletEntry.objects.filter(
        created_at__gte=since, created_at__lt=until, kind__in=[TOP_UP, SPEND, RESTORE]
    ).order_by()
    return [REPORT_TABLES[key](entries).finish() for key in tables or REPORT_TABLES]


def _csv_cell(value) -> object:
    """Text that a spreadsheet would run as a formula is quoted (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _report_csv(table: ReportTable, start: date, end: date) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"recharge-report-{table.key}-{start.isoformat()}-{end.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # a BOM, so Excel opens the Chinese text as UTF-8
    writer = csv.writer(response)
    writer.writerow([str(table.label), *(str(label) for _key, label in table.columns)])
    for row in table.rows:
        writer.writerow([_csv_cell(row["label"]), *(row[key] for key, _label in table.columns)])
    writer.writerow([_("Total"), *(table.totals[key] for key, _label in table.columns)])
    return response


def recharge_report_view(request, *, model_admin):
    if not staff_can(request.user, Action.VIEW_ANALYTICS):
        raise PermissionDenied
    data = request.GET.copy()
    if not data.get("start") and not data.get("end"):
        # Show the default period (this month) in the date fields too.
        default_start, default_end = DateRangeForm.this_month()
        data["start"], data["end"] = default_start.isoformat(), default_end.isoformat()
    form = DateRangeForm(data)
    tables: list[ReportTable] = []
    start = end = None
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        if request.GET.get("format") == "csv":
            key = request.GET.get("table", "store")
            if key not in REPORT_TABLES:
                return HttpResponse(_("Unknown table."), status=400, content_type="text/plain; charset=utf-8")
            (table,) = recharge_report(start, end, [key])
            audit_record(
                actor=request.user,
                action="loyalty.report_exported",
                reason=str(_("Recharge report CSV")),
                data={"report": "recharge", "table": key, "start": start.isoformat(), "end": end.isoformat()},
            )
            return _report_csv(table, start, end)
        tables = recharge_report(start, end)
    return TemplateResponse(
        request,
        "admin/loyalty/recharge_report.html",
        _context(
            request,
            model_admin,
            _("Recharge report"),
            form=form,
            tables=tables,
            start=start,
            end=end,
            query=f"start={start.isoformat()}&end={end.isoformat()}" if start else "",
        ),
    )


# --- downgrade risk ---------------------------------------------------------------------------

MAX_RISK_ROWS = 500


def downgrade_risk_view(request, *, model_admin):
    if not staff_can(request.user, Action.VIEW_ANALYTICS):
        raise PermissionDenied
    form = DowngradeRiskForm(request.GET or None)
    within = form.cleaned_data["within_days"] if form.is_bound and form.is_valid() else 30
    policy = TierPolicy.current()
    found = list(islice(members_at_downgrade_risk(within_days=within), MAX_RISK_ROWS + 1))
    capped = len(found) > MAX_RISK_ROWS
    is_money = policy.metric == Tier.Metric.SPEND
    rows = [
        {
            "member": risk.stats.member,
            "phone": phone_for(request.user, risk.stats.member.phone),
            "url": reverse("admin:members_member_change", args=[risk.stats.member_id]),
            "tier": risk.stats.tier,
            "tier_since": risk.stats.tier_since,
            "drops_on": risk.drops_on,
            "value": risk.value,
            "missing": risk.missing,
        }
        for risk in found[:MAX_RISK_ROWS]
    ]
    return TemplateResponse(
        request,
        "admin/loyalty/downgrade_risk.html",
        _context(
            request,
            model_admin,
            _("Tier downgrade risk"),
            form=form,
            within_days=within,
            rows=rows,
            capped=capped,
            max_rows=MAX_RISK_ROWS,
            policy=policy,
            is_money=is_money,
        ),
    )
