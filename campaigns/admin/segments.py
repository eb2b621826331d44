"""Segments in the back office: the list, the rule builder (one row per rule, a live count as the rules
change, errors next to their rule; it works without JavaScript too), the preview (count, counts by
tier, the first members), "Export members" (a members export job of exactly the segment's members,
audited) and, in the members list, a "segment" filter to browse a segment's members.

HQ admin and marketer (Action.MANAGE_CAMPAIGNS) manage segments; every write goes through
campaigns.services.segments.
"""

from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from campaigns.models import Segment
from campaigns.segment_builder import (
    PREFIX,
    Row,
    SegmentForm,
    attach_errors,
    field_specs,
    rows_from_post,
    rows_from_rules,
    segment_initial,
)
from campaigns.segments import FIELDS, SegmentRuleError, members_matching, validate_rules
from campaigns.selectors.segments import segment_by_id, segment_preview
from campaigns.services.segments import (
    SegmentInvalid,
    segment_count,
    segment_create,
    segment_delete,
    segment_export_start,
    segment_in_use,
    segment_update,
)
from loyalty.admin import FullWidthChangelistMixin
from loyalty.admin_views import _context
from members.phones import sees_full_phones
from stores.permissions import staff_can
from stores.roles import Action


def _may_manage(request) -> bool:
    return staff_can(request.user, Action.MANAGE_CAMPAIGNS)


def _members(count: int) -> str:
    return ngettext("%(count)s member", "%(count)s members", count) % {
        "count": number_format(count, force_grouping=True)
    }


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


class SegmentExportForm(forms.Form):
    fmt = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[("csv", "CSV"), ("xlsx", gettext_lazy("Excel workbook (XLSX)"))],
        initial="csv",
        widget=forms.RadioSelect,
    )
    headers = forms.ChoiceField(
        label=gettext_lazy("Headers"),
        choices=[("zh", "中文"), ("en", "English")],
        widget=forms.RadioSelect,
    )


@admin.register(Segment)
class SegmentAdmin(FullWidthChangelistMixin, admin.ModelAdmin):
    list_display = ["name", "rules_shown", "members_shown", "counted_at_shown", "created_by", "preview_link"]
    list_select_related = ["created_by"]
    search_fields = ["name"]
    show_facets = admin.ShowFacets.NEVER
    # Deleting goes through segment_delete (refused while a campaign or automation uses the segment).
    actions = None
    builder_template = "admin/campaigns/segment/builder.html"
    preview_template = "admin/campaigns/segment/preview.html"

    # --- who ----------------------------------------------------------------------------------
    # The model permissions (HQ roles' groups) decide what the app list shows, without a query of
    # their own; every segment page also asks staff_can, which costs the role's query there only.

    def _refuse_unless_manager(self, request) -> None:
        if not _may_manage(request):
            raise PermissionDenied

    # --- the list -----------------------------------------------------------------------------

    @admin.display(description=gettext_lazy("rules"))
    def rules_shown(self, segment: Segment) -> str:
        labels = [str(FIELDS[r["field"]].label) for r in segment.rules if r.get("field") in FIELDS]
        return " · ".join(labels) or _("All active members")

    @admin.display(description=gettext_lazy("members (last count)"), ordering="member_count")
    def members_shown(self, segment: Segment) -> str:
        return "—" if segment.member_count is None else number_format(segment.member_count, force_grouping=True)

    @admin.display(description=gettext_lazy("counted at"), ordering="counted_at")
    def counted_at_shown(self, segment: Segment) -> str:
        return _local(segment.counted_at)

    @admin.display(description=gettext_lazy("preview"))
    def preview_link(self, segment: Segment):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_segment_preview", args=[segment.pk]), _("Preview")
        )

    # --- pages --------------------------------------------------------------------------------

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(partial(fn, model_admin=self))

        return [
            path("count/", view(segment_count_view), name="campaigns_segment_count"),
            path("<path:object_id>/preview/", view(segment_preview_view), name="campaigns_segment_preview"),
            path("<path:object_id>/recount/", view(segment_recount_view), name="campaigns_segment_recount"),
            path("<path:object_id>/export/", view(segment_export_view), name="campaigns_segment_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        self._refuse_unless_manager(request)
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        return segment_builder_view(request, None, model_admin=self)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return segment_builder_view(request, object_id, model_admin=self)

    def delete_view(self, request, object_id, extra_context=None):
        self._refuse_unless_manager(request)
        segment = segment_by_id(unquote(object_id))
        if segment is not None and self.has_delete_permission(request, segment):
            used = segment_in_use(segment)
            if used:
                messages.error(
                    request,
                    _("“%(name)s” cannot be deleted: %(users)s use it. Change them to another segment first.")
                    % {"name": segment.name, "users": "、".join(used)},
                )
                return redirect("admin:campaigns_segment_change", segment.pk)
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        segment_delete(actor=request.user, segment=obj)


def _segment_or_404(model_admin, request, object_id) -> Segment:
    model_admin._refuse_unless_manager(request)
    segment = segment_by_id(unquote(object_id))
    if segment is None:
        raise Http404(_("No such segment."))
    if not model_admin.has_view_permission(request, segment):
        raise PermissionDenied
    return segment


def _next_key(rows: list[Row]) -> int:
    return max((int(row.key) for row in rows), default=-1) + 1


def segment_builder_view(request, object_id, *, model_admin):
    """The rule builder: add (object_id None) or change a segment."""
    model_admin._refuse_unless_manager(request)
    segment = _segment_or_404(model_admin, request, object_id) if object_id is not None else None
    if segment is not None:
        allowed = model_admin.has_change_permission(request, segment)
    else:
        allowed = model_admin.has_add_permission(request)
    if not allowed:
        raise PermissionDenied
    general: list[str] = []
    checked_count = None
    if request.method == "POST":
        saving = not ({"_add_rule", "_remove", "_count"} & set(request.POST))
        # Adding, removing or counting rules redraws the page: no "name required" before saving.
        form = (
            SegmentForm(request.POST)
            if saving
            else SegmentForm(initial={f: request.POST.get(f, "")[:2000] for f in ("name", "description")})
        )
        drop = request.POST.get("_remove")
        rules, rows = rows_from_post(request.POST, drop=drop)
        if "_add_rule" in request.POST:
            rows.append(Row(key=str(_next_key(rows)), field=None))
        elif drop is not None:
            pass
        elif "_count" in request.POST:
            try:
                checked_count = members_matching(validate_rules(rules)).count()
            except SegmentRuleError as error:
                general = attach_errors(rows, error.errors)
        else:
            saved = _save(request, form, rules, rows, segment, general)
            if saved is not None:
                if "_continue" in request.POST:
                    return redirect("admin:campaigns_segment_change", saved.pk)
                return redirect("admin:campaigns_segment_preview", saved.pk)
    else:
        form = SegmentForm(initial=segment_initial(segment))
        rows = rows_from_rules(segment.rules) if segment is not None else []
        if segment is None and not rows:
            rows = [Row(key="0", field=None)]
    specs = field_specs()
    by_name = {spec["name"]: spec for spec in specs}
    for row in rows:
        row.spec = by_name.get(row.field.name) if row.field is not None else None
    title = _("Change segment “%(name)s”") % {"name": segment.name} if segment else _("Add segment")
    context = _context(
        request,
        model_admin,
        title,
        form=form,
        segment=segment,
        rows=rows,
        specs=specs,
        general_errors=general,
        next_key=_next_key(rows),
        prefix=PREFIX,
        checked_count=_members(checked_count) if checked_count is not None else None,
        stored_count=_members(segment.member_count) if segment and segment.member_count is not None else None,
        counted_at=_local(segment.counted_at) if segment else None,
        count_url=reverse("admin:campaigns_segment_count"),
        can_delete=segment is not None and model_admin.has_delete_permission(request, segment),
        can_open_changelist=True,
    )
    return TemplateResponse(request, model_admin.builder_template, context)


def _save(request, form, rules, rows, segment, general) -> Segment | None:
    """Save through the service; on a refusal put each error where it belongs and return None."""
    if not form.is_valid():
        # Say what is wrong with the rules as well, all at once.
        try:
            validate_rules(rules)
        except SegmentRuleError as error:
            general += attach_errors(rows, error.errors)
        return None
    data = form.cleaned_data
    try:
        if segment is None:
            saved = segment_create(actor=request.user, name=data["name"], description=data["description"], rules=rules)
        else:
            saved = segment_update(
                actor=request.user,
                segment=segment,
                name=data["name"],
                description=data["description"],
                rules=rules,
            )
    except SegmentInvalid as error:
        for name in ("name", "description"):
            for message in error.message_dict.get(name, []):
                form.add_error(name, message)
        general += attach_errors(rows, error.rule_errors)
        return None
    messages.success(
        request,
        _("Segment “%(name)s” saved: %(members)s now.") % {"name": saved.name, "members": _members(saved.member_count)},
    )
    return saved


def segment_count_view(request, *, model_admin):
    """The live count: the builder's rows as posted → {"count", "text"}, or 400 with each rule's error."""
    if not _may_manage(request):
        return JsonResponse(
            {"code": "permission_denied", "message": _("Your role does not allow this."), "field": None}, status=403
        )
    if request.method != "POST":
        return JsonResponse(
            {"code": "method_not_allowed", "message": _("Send the rules with POST."), "field": None}, status=405
        )
    rules, rows = rows_from_post(request.POST)
    try:
        cleaned = validate_rules(rules)
    except SegmentRuleError as error:
        keys = [row.key for row in rows if row.field is not None or row.inputs.get("field")]
        return JsonResponse(
            {
                "code": "invalid_rules",
                "message": _("Correct the rules marked below to see the count."),
                "field": "rules",
                "errors": [
                    {"row": keys[index] if index is not None and index < len(keys) else None, "message": message}
                    for index, message in error.errors
                ],
            },
            status=400,
        )
    count = members_matching(cleaned).order_by().count()
    return JsonResponse({"count": count, "text": _members(count)})


def segment_preview_view(request, object_id, *, model_admin):
    segment = _segment_or_404(model_admin, request, object_id)
    full_phones = sees_full_phones(request.user)
    preview, problems = None, []
    try:
        preview = segment_preview(segment.rules, full_phones=full_phones)
    except SegmentRuleError as error:
        problems = [message for _index, message in error.errors]
    context = _context(
        request,
        model_admin,
        _("Segment “%(name)s”") % {"name": segment.name},
        segment=segment,
        preview=preview,
        problems=problems,
        count_text=_members(preview.count) if preview else None,
        rules_text=model_admin.rules_shown(segment),
        stored_count=_members(segment.member_count) if segment.member_count is not None else None,
        counted_at=_local(segment.counted_at),
        full_phones=full_phones,
        can_export=staff_can(request.user, Action.EXPORT_DATA),
        export_form=SegmentExportForm(initial={"headers": "zh" if (get_language() or "").startswith("zh") else "en"}),
        members_url=reverse("admin:members_member_changelist") + f"?segment={segment.pk}",
        can_view_members=request.user.has_perm("members.view_member"),
        can_change=model_admin.has_change_permission(request, segment),
        can_open_changelist=True,
    )
    return TemplateResponse(request, model_admin.preview_template, context)


def segment_recount_view(request, object_id, *, model_admin):
    segment = _segment_or_404(model_admin, request, object_id)
    if request.method != "POST" or not model_admin.has_change_permission(request, segment):
        raise PermissionDenied
    try:
        count = segment_count(segment=segment)
    except SegmentRuleError as error:
        messages.error(request, "; ".join(message for _index, message in error.errors))
    else:
        messages.success(request, _("Counted again: %(members)s.") % {"members": _members(count)})
    return redirect("admin:campaigns_segment_preview", segment.pk)


def segment_export_view(request, object_id, *, model_admin):
    """Start a members export job of the segment's members (audited) and go to the job's page."""
    segment = _segment_or_404(model_admin, request, object_id)
    if request.method != "POST" or not staff_can(request.user, Action.EXPORT_DATA):
        raise PermissionDenied
    form = SegmentExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a format and the headers' language."))
        return redirect("admin:campaigns_segment_preview", segment.pk)
    try:
        job = segment_export_start(
            actor=request.user,
            segment=segment,
            fmt=form.cleaned_data["fmt"],
            headers=form.cleaned_data["headers"],
            language=get_language() or "zh-hans",
        )
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return redirect("admin:campaigns_segment_preview", segment.pk)
    except SegmentRuleError as error:
        messages.error(request, "; ".join(message for _index, message in error.errors))
        return redirect("admin:campaigns_segment_preview", segment.pk)
    return redirect("admin:members_exportjob_change", job.pk)


# --- the members list's "segment" filter ----------------------------------------------------------


class SegmentMemberFilter(admin.SimpleListFilter):
    """Members of a saved segment, as members_matching selects them (active members only)."""

    title = gettext_lazy("segment")
    parameter_name = "segment"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Segment.objects.order_by("name", "pk").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        segment = segment_by_id(value)
        if segment is None:
            messages.error(request, _("That segment no longer exists."))
            return queryset.none()
        try:
            matching = members_matching(segment.rules)
        except SegmentRuleError as error:
            messages.error(request, "; ".join(message for _index, message in error.errors))
            return queryset.none()
        return queryset.filter(pk__in=matching.values("pk"))
