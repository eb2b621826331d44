"""Imports in the back office: members (HQ staff whose role may edit members) and the other kinds
apps register (purchase history: the HQ admin). One set of pages serves every kind:

- upload page: a file, all-or-nothing or skip-bad-rows, dry run → an ImportJob, run in the background
  (members.imports.jobs), and the browser goes to the job's page at once;
- job page: a progress bar that moves while the import runs (a small script asks the progress view
  every second; no library), then the counts, the error report and the template;
- the list of past imports; the template and error reports as CSV downloads.

Import files and error reports hold phones and names: they are only ever served by these views,
which check the role, never from MEDIA_URL.
"""

from functools import partial
from pathlib import PurePath

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from members.imports.forms import ImportForm
from members.imports.jobs import (
    can_import,
    import_job_create,
    import_job_is_stalled,
    import_job_may_retry,
    import_job_retry,
    import_kind,
    job_progress,
)
from members.models import ImportJob


def can_import_members(user) -> bool:
    return can_import(user, ImportJob.Kind.MEMBERS)


def _require(request, kind: str = ImportJob.Kind.MEMBERS) -> None:
    if not can_import(request.user, kind):
        raise PermissionDenied


def _require_any(request) -> None:
    if not any(can_import(request.user, kind) for kind in ImportJob.Kind.values):
        raise PermissionDenied


def _kind(value: str) -> str:
    try:
        import_kind(value)
    except LookupError:
        raise Http404 from None
    return value


def _context(request, model_admin, title: str, *, kind: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "kind": kind,
        "template_url": reverse("admin:members_importjob_template", args=[kind]),
        "upload_url": reverse("admin:members_importjob_upload", args=[kind]),
        **extra,
    }


def upload_view(request, kind=ImportJob.Kind.MEMBERS, *, model_admin):
    kind = _kind(kind)
    _require(request, kind)
    spec = import_kind(kind)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, kind=kind)
        if form.is_valid():
            job = import_job_create(
                actor=request.user,
                upload=form.cleaned_data["file"],
                mode=form.cleaned_data["mode"],
                dry_run=form.cleaned_data["dry_run"],
                language=get_language() or "zh-hans",
                kind=kind,
                options=form.job_options(),
            )
            return redirect("admin:members_importjob_change", job.pk)
    else:
        form = ImportForm(kind=kind)
    return TemplateResponse(
        request,
        "admin/members/importjob/upload.html",
        _context(request, model_admin, spec.title, kind=kind, form=form, intro=spec.intro),
    )


def job_view(request, object_id, *, model_admin):
    if not str(object_id).isdigit():
        raise Http404
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=object_id)
    _require(request, job.kind)
    return TemplateResponse(
        request,
        "admin/members/importjob/job.html",
        _context(
            request,
            model_admin,
            _("%(kind)s import: %(file)s") % {"kind": job.get_kind_display(), "file": job.file_name},
            kind=job.kind,
            job=job,
            progress=job_progress(job),
            progress_url=reverse("admin:members_importjob_progress", args=[job.pk]),
            error_report_url=reverse("admin:members_importjob_errors", args=[job.pk]) if job.error_report else "",
            stalled=import_job_is_stalled(job),
            retry_url=reverse("admin:members_importjob_retry", args=[job.pk]) if import_job_may_retry(job) else "",
        ),
    )


@require_POST
def retry_view(request, object_id, *, model_admin):
    job = get_object_or_404(ImportJob, pk=object_id)
    _require(request, job.kind)
    try:
        import_job_retry(actor=request.user, job=job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The import runs again from the start."))
    return redirect("admin:members_importjob_change", job.pk)


@never_cache
def progress_view(request, object_id, *, model_admin):
    job = get_object_or_404(ImportJob, pk=object_id)
    _require(request, job.kind)
    return JsonResponse(job_progress(job))


def error_report_view(request, object_id, *, model_admin):
    job = get_object_or_404(ImportJob, pk=object_id)
    _require(request, job.kind)
    if not job.error_report:
        raise Http404
    stem = PurePath(job.file_name).stem or job.kind
    response = FileResponse(
        job.error_report.open("rb"), as_attachment=True, filename=f"{stem}-errors.csv", content_type="text/csv"
    )
    response["Cache-Control"] = "no-store"  # phones and names: no copy in a browser's or a proxy's cache
    return response


def template_view(request, kind=ImportJob.Kind.MEMBERS, *, model_admin):
    kind = _kind(kind)
    _require(request, kind)
    response = HttpResponse(import_kind(kind).template(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.csv"'
    return response


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Past and running imports; each one's page is its job page (no editing: a job is a record)."""

    list_display = [
        "created_at",
        "kind",
        "file_name",
        "created_by",
        "mode",
        "dry_run",
        "status",
        "rows",
        "created_count",
        "updated_count",
        "unchanged_count",
        "rejected_count",
    ]
    list_display_links = ["created_at", "file_name"]
    list_filter = ["kind", "status", "dry_run", "mode"]
    list_select_related = ["created_by"]
    list_per_page = 50
    actions = ["run_again"]

    # The admin asks these on every page, for its app list: they use the model permissions Django has
    # already loaded (HQ roles that may change members), no query of their own. The import's own
    # pages check the role's action as well.
    def _may_change_members(self, request) -> bool:
        return request.user.has_perm("members.change_member")

    def has_module_permission(self, request):
        return self._may_change_members(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._may_change_members(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._may_change_members(request)

    def changelist_view(self, request, extra_context=None):
        _require_any(request)
        return super().changelist_view(request, extra_context)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:members_importjob_upload")

    @admin.action(description=gettext_lazy("Run the selected imports again (failed or stopped ones)"))
    def run_again(self, request, queryset):
        run_jobs_again(request, queryset, import_job_retry)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return job_view(request, object_id, model_admin=self)

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(partial(fn, model_admin=self))

        return [
            path("upload/", view(upload_view), name="members_importjob_upload"),
            path("upload/<slug:kind>/", view(upload_view), name="members_importjob_upload"),
            path("template/", view(template_view), name="members_importjob_template"),
            path("template/<slug:kind>/", view(template_view), name="members_importjob_template"),
            path("<int:object_id>/progress/", view(progress_view), name="members_importjob_progress"),
            path("<int:object_id>/errors/", view(error_report_view), name="members_importjob_errors"),
            path("<int:object_id>/retry/", view(retry_view), name="members_importjob_retry"),
            *super().get_urls(),
        ]


def run_jobs_again(request, queryset, retry) -> None:
    """The list's action: each selected job through its retry service (checked and audited there)."""
    retried = refused = 0
    for job in queryset[:100]:
        try:
            retry(actor=request.user, job=job)
        except (ValidationError, PermissionDenied):
            refused += 1
        else:
            retried += 1
    if retried:
        messages.success(
            request, ngettext("%(count)d job runs again.", "%(count)d jobs run again.", retried) % {"count": retried}
        )
    if refused:
        messages.warning(
            request,
            ngettext(
                "%(count)d job was left as it is: only failed or stopped jobs run again.",
                "%(count)d jobs were left as they are: only failed or stopped jobs run again.",
                refused,
            )
            % {"count": refused},
        )
