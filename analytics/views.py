"""The dashboards in the back office: an index, one page per registered dashboard, and each table's
export (CSV or XLSX, audited). HQ admins and marketers read the whole chain and filter by store or
region; the views only check, read the filters and render."""

import dataclasses

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from analytics.dashboards import REGISTRY, dashboards
from analytics.dashboards.charts import render
from analytics.exports import dashboard_table_export
from analytics.forms import DashboardFilterForm
from stores.permissions import staff_access, staff_can
from stores.roles import Action


def allowed_store_ids(user) -> frozenset[int] | None:
    access = staff_access(user)
    return None if access.chain_wide else access.store_ids


def _require_reader(request) -> None:
    if not staff_can(request.user, Action.VIEW_ANALYTICS):
        raise PermissionDenied


def _context(request, title: str, **extra) -> dict:
    # The admin's context without its app list: these pages hide the navigation sidebar, and the app
    # list costs two permission queries on every page.
    site = admin.site
    return {
        "site_title": site.site_title,
        "site_header": site.site_header,
        "site_url": site.site_url,
        "has_permission": site.has_permission(request),
        "available_apps": [],
        "is_popup": False,
        "is_nav_sidebar_enabled": False,
        "title": title,
        "dashboards": dashboards(),
        **extra,
    }


def dashboard_index(request):
    _require_reader(request)
    return TemplateResponse(request, "admin/analytics/dashboards.html", _context(request, _("Dashboards")))


def dashboard_view(request, slug: str):
    _require_reader(request)
    dashboard = REGISTRY.get(slug)
    if dashboard is None:
        raise Http404
    # Always bound: no dates at all is a valid request for this month.
    form = DashboardFilterForm(request.GET, allowed_store_ids=allowed_store_ids(request.user))
    board = None
    if form.is_valid():
        scope = form.scope()
        if not dashboard.uses_stores:
            # The store filter is hidden: a store or region carried over from another tab's link does
            # not narrow a chain-wide dashboard (a reader limited to some stores keeps their limit).
            scope = dataclasses.replace(scope, store_ids=form.allowed_store_ids)
        board = dashboard.build(scope)
        fmt = request.GET.get("format")
        if fmt:
            response = _export(request, dashboard, board, scope, fmt, request.GET.get("table", ""))
            if response is not None:
                return response
    query = request.GET.copy()
    query.pop("format", None)
    query.pop("table", None)
    return TemplateResponse(
        request,
        "admin/analytics/dashboard.html",
        _context(
            request,
            str(dashboard.title),
            dashboard=dashboard,
            form=form,
            board=board,
            charts=[(chart, render(chart)) for chart in board.charts] if board else [],
            query=query.urlencode(),
            can_export=staff_can(request.user, Action.EXPORT_DATA),
        ),
    )


def _export(request, dashboard, board, scope, fmt: str, table_key: str):
    if not staff_can(request.user, Action.EXPORT_DATA):
        raise PermissionDenied
    table = board.table(table_key)
    if table is None:
        raise Http404
    try:
        export = dashboard_table_export(
            actor=request.user, dashboard_slug=dashboard.slug, table=table, scope=scope, fmt=fmt
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return None
    return export.http_response()
