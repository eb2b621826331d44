"""The members export in the back office: an "Export" button on the members list, an action for the
ticked rows, and the page where the user picks columns and format.

The page gets the list's query string (its filters and search) and rebuilds the queryset with the
ModelAdmin's own changelist machinery (`get_changelist_instance(request)`, with a ChangeList that skips
the page of results and its count), so the export holds exactly the members the list showed, never
more. The ticked rows of the action arrive as `ids=` on top of the same filters.

Only roles with Action.EXPORT_DATA (HQ admin, marketer) see the button and the action and may open the
page (others get 403). Exporting counts the rows, writes one audit row (who, the filter query string,
the row count, the format and the columns) and then streams the file (members.exports) — or, when it is
too large for one request, hands it to a job written in the background and goes to the job's page
(members.export_jobs).
"""

import copy
from functools import cache

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, SEARCH_VAR
from django.core.exceptions import PermissionDenied, SuspiciousOperation, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from members.access import search_for_audit
from members.export_jobs import export_job_create, export_runs_in_background
from members.exports import default_member_export_columns, member_export_columns, member_export_prepare
from members.models import ExportJob, Member
from members.phones import sees_full_phones
from stores.permissions import staff_can
from stores.roles import Action

# Query parameters of the export page that are not the list's own filters.
SELECTED_PARAM = "ids"
MAX_SELECTED = 1000
# A job's members selection (members.export_jobs): the source's name, and the longest query string kept.
MEMBER_LIST = "member_list"
MAX_QUERY_LENGTH = 8000


class MemberExportForm(forms.Form):
    columns = forms.MultipleChoiceField(
        label=capfirst(gettext_lazy("columns")),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one column.")},
    )
    fmt = forms.ChoiceField(
        label=capfirst(gettext_lazy("format")),
        choices=[
            ("csv", gettext_lazy("CSV (UTF-8, opens in Excel; streams at once)")),
            ("xlsx", gettext_lazy("Excel workbook (XLSX)")),
        ],
        initial="csv",
        widget=forms.RadioSelect,
    )
    headers = forms.ChoiceField(
        label=capfirst(gettext_lazy("headers")),
        choices=[("zh", "中文（手机号、姓名 …）"), ("en", "English (phone, name …)")],
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["columns"].choices = [(c.key, f"{c.header_zh} · {c.header_en}") for c in member_export_columns()]
        self.fields["columns"].initial = [c.key for c in default_member_export_columns()]
        self.fields["headers"].initial = "zh" if (get_language() or "").startswith("zh") else "en"


@cache
def _changelist_without_results(changelist_class):
    """The admin's ChangeList, minus the page of results and its count: the export needs the queryset."""

    def get_results(self, request):
        self.result_count = self.full_result_count = 0
        self.result_list = []
        self.can_show_all = self.multi_page = False
        self.paginator = None

    return type(f"Export{changelist_class.__name__}", (changelist_class,), {"get_results": get_results})


def _selected_ids(text: str | None) -> list[int] | None:
    if text is None:
        return None
    parts = [part for part in text.split(",") if part]
    if not parts or len(parts) > MAX_SELECTED or not all(part.isdigit() and len(part) < 19 for part in parts):
        raise ValueError(text)
    return [int(part) for part in parts]


class MemberExportAdminMixin:
    """Mixed into MemberAdmin: the export page's URL, the list's button and the action."""

    export_template = "admin/members/member/export.html"

    def has_export_permission(self, request) -> bool:
        return staff_can(request.user, Action.EXPORT_DATA) and self.has_view_permission(request)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        export = path("export/", self.admin_site.admin_view(self.export_view), name=f"{info[0]}_{info[1]}_export")
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_export_members": self.has_export_permission(request)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def get_actions(self, request):
        actions = super().get_actions(request)
        if actions is not None and self.has_export_permission(request):
            actions["export_selected_members"] = self.get_action("export_selected_members")
        return actions

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if getattr(request, "_members_export", False):
            return _changelist_without_results(changelist)
        return changelist

    @admin.action(description=gettext_lazy("Export selected members"))
    def export_selected_members(self, request, queryset):
        params = request.GET.copy()
        for name in (PAGE_VAR, ERROR_FLAG, SELECTED_PARAM):
            params.pop(name, None)
        if request.POST.get("select_across") != "1":
            ids = [value for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if value.isdigit()]
            params[SELECTED_PARAM] = ",".join(ids[:MAX_SELECTED])
        url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_export")
        return HttpResponseRedirect(f"{url}?{params.urlencode()}")

    # --- the page ----------------------------------------------------------------------------

    def export_changelist(self, request):
        """The list the user was looking at, from the page's query string (without our own parameters)."""
        query = request.GET.copy()
        query.pop(SELECTED_PARAM, None)
        list_request = copy.copy(request)
        list_request.GET = query
        list_request._members_export = True
        return self.get_changelist_instance(list_request)

    def export_members(self, request, ids: list[int] | None):
        """(the changelist, its members, and only the ticked `ids` of them if any): what the page counts
        and what the worker writes again (member_list_selection)."""
        cl = self.export_changelist(request)
        queryset = cl.queryset.order_by()
        if ids is not None:
            queryset = queryset.filter(pk__in=ids)
        return cl, queryset

    def export_view(self, request):
        if not self.has_export_permission(request):
            raise PermissionDenied
        try:
            ids = _selected_ids(request.GET.get(SELECTED_PARAM))
        except ValueError:
            return HttpResponseBadRequest(
                _("The address does not name the selected members (at most %(max)d numbers, commas between).")
                % {"max": MAX_SELECTED},
                content_type="text/plain; charset=utf-8",
            )
        changelist_url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
        try:
            cl, queryset = self.export_members(request, ids)
        except IncorrectLookupParameters:
            messages.error(request, _("The list's filters in the address are not valid; choose them again."))
            return HttpResponseRedirect(f"{changelist_url}?{ERROR_FLAG}=1")
        list_query = cl.get_query_string()
        form = MemberExportForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                export = member_export_prepare(
                    actor=request.user,
                    queryset=queryset,
                    columns=form.cleaned_data["columns"],
                    fmt=form.cleaned_data["fmt"],
                    language=form.cleaned_data["headers"],
                    filters=search_for_audit(request.GET, term=cl.query).urlencode(),
                    source="admin",
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if not export_runs_in_background(export):
                    return export.http_response()
                job = export_job_create(
                    actor=request.user,
                    kind=ExportJob.Kind.MEMBERS,
                    export=export,
                    selection=member_list_selection_of(request, ids, search=cl.query),
                    filters=_active_filters(cl) + ([(_("Ticked"), str(len(ids)))] if ids is not None else []),
                    language=get_language() or "zh-hans",
                )
                return redirect("admin:members_exportjob_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Export members"),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "form": form,
            "count": queryset.count(),
            "filters": _active_filters(cl),
            "selected": len(ids) if ids is not None else None,
            "full_phones": sees_full_phones(request.user),
            "changelist_url": changelist_url + (list_query if list_query != "?" else ""),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.export_template, context)


def _active_filters(cl) -> list[tuple[str, str]]:
    """The list's filters in use, as the filter sidebar names them: [(title, choice), …]."""
    shown = []
    for spec in cl.filter_specs:
        used = [name for name in spec.expected_parameters() if name in cl.params]
        if not used:
            continue
        chosen = [str(choice["display"]) for choice in spec.choices(cl) if choice.get("selected")]
        shown.append((capfirst(str(spec.title)), ", ".join(chosen) or ", ".join(str(cl.params[n]) for n in used)))
    if cl.query:
        shown.append((_("Search"), cl.query))
    return shown


# --- the members list as a job's selection (members.export_jobs) --------------------------------


def member_list_selection_of(request, ids: list[int] | None, *, search: str = "") -> dict:
    """What a job keeps of the export page's request: the list's query string, the ticked ids, and the
    search the list's token stood for (the worker has no session to read it from)."""
    query = request.GET.copy()
    query.pop(SELECTED_PARAM, None)
    query.pop(SEARCH_VAR, None)
    return {"source": MEMBER_LIST, "query": query.urlencode(), "search": search, "ids": ids}


class _CollectedMessages(list):
    """The messages a list filter adds (e.g. "that segment no longer exists"), where no page shows them."""

    def add(self, level, message, extra_tags=""):
        self.append((level, str(message)))


def member_list_selection(selection: dict, *, actor) -> QuerySet[Member]:
    """The members a "member_list" selection names: the members list of `actor`, as the admin builds it
    now (its queryset, list filters and search, and the role's permissions), with the kept query string,
    then only the ticked ids. Parameters the list would refuse are refused; none can add a member the
    list would not show."""
    from django.contrib.admin import site

    from members.export_jobs import ExportJobRefused

    query, ids = selection.get("query"), selection.get("ids")
    if not isinstance(query, str) or len(query) > MAX_QUERY_LENGTH:
        raise ExportJobRefused(_("The list's filters of this export are not valid: export it again."))
    try:
        if ids is not None and not (isinstance(ids, list) and all(type(i) is int for i in ids)):
            raise ValueError(ids)
        ids = _selected_ids(None if ids is None else ",".join(str(i) for i in ids))
    except ValueError:
        raise ExportJobRefused(_("The list's filters of this export are not valid: export it again.")) from None
    model_admin = site.get_model_admin(Member)
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = reverse("admin:members_member_export")
    request.GET = QueryDict(query)
    search = selection.get("search")
    if isinstance(search, str) and search:
        request.admin_search_term = search  # config.admin_search: no session to read a token from
    request.user = actor
    request._messages = _CollectedMessages()
    if not model_admin.has_export_permission(request):
        raise ExportJobRefused(_("Your role no longer allows exports."))
    try:
        _cl, queryset = model_admin.export_members(request, ids)
    except (IncorrectLookupParameters, SuspiciousOperation):
        raise ExportJobRefused(_("The list's filters of this export are not valid: export it again.")) from None
    errors = [message for level, message in request._messages if level >= messages.ERROR]
    if errors:
        raise ExportJobRefused(" ".join(errors))
    return queryset
