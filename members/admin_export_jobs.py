"""Exports written in the background (members.export_jobs), in the back office:

- the job page: what was asked, a progress bar that moves while the rows are written (a small script
  asks the progress view every second, as the import's page does; no library), then the download link
  and the row count;
- the list of past exports: one's own, or everyone's for those who may see every export (HQ admin);
- the download, served as an attachment by a view that checks the role and the job's owner.

Only roles with Action.EXPORT_DATA reach these pages. Export files hold phones and names: they are only
ever served by the download view, never from MEDIA_URL.
"""

from functools import partial

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.tabular import CONTENT_TYPES
from members.admin_imports import run_jobs_again
from members.export_jobs import (
    can_export,
    can_see_every_export,
    export_job_is_stalled,
    export_job_may_retry,
    export_job_retry,
    export_kind,
    job_progress,
    may_see_export,
    visible_export_jobs,
)
from members.models import ExportJob


def _job(request, object_id, *select: str) -> ExportJob:
    """The job, if this user may see it: 403 for staff who may not export or whose job it is not."""
    if not can_export(request.user):
        raise PermissionDenied
    if not str(object_id).isdigit():
        raise Http404
    job = get_object_or_404(ExportJob.objects.select_related(*select), pk=object_id)
    if not may_see_export(request.user, job):
        raise PermissionDenied
    return job


def job_view(request, object_id, *, model_admin):
    job = _job(request, object_id, "created_by", "store")
    try:
        page_url = reverse(export_kind(job.kind).page)
    except LookupError:
        page_url = ""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("%(kind)s export: %(file)s") % {"kind": job.get_kind_display(), "file": job.file_name},
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "job": job,
        "progress": job_progress(job),
        "progress_url": reverse("admin:members_exportjob_progress", args=[job.pk]),
        "download_url": reverse("admin:members_exportjob_download", args=[job.pk])
        if job.status == ExportJob.Status.DONE
        else "",
        "export_page_url": page_url,
        "keep_days": settings.PII_FILE_RETENTION_DAYS,
        "changelist_url": reverse("admin:members_exportjob_changelist"),
        "stalled": export_job_is_stalled(job),
        "retry_url": reverse("admin:members_exportjob_retry", args=[job.pk]) if export_job_may_retry(job) else "",
    }
    return TemplateResponse(request, "admin/members/exportjob/job.html", context)


@require_POST
def retry_view(request, object_id, *, model_admin):
    job = _job(request, object_id)
    try:
        export_job_retry(actor=request.user, job=job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The export is written again from the start."))
    return redirect("admin:members_exportjob_change", job.pk)


@never_cache
def progress_view(request, object_id, *, model_admin):
    return JsonResponse(job_progress(_job(request, object_id)))


def download_view(request, object_id, *, model_admin):
    job = _job(request, object_id)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    try:
        content = job.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    # FileResponse writes the name as RFC 6266 asks (filename*=utf-8''…), so Chinese names arrive whole.
    response = FileResponse(content, as_attachment=True, filename=job.file_name, content_type=CONTENT_TYPES[job.fmt])
    # No Cache-Control of its own: admin_view already marks every admin answer never to be cached.
    response["X-Export-Rows"] = str(job.rows_written)
    return response


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Past and running exports; each one's page is its job page (no editing: a job is a record)."""

    list_display = ["created_at", "kind", "description", "created_by", "fmt", "status", "rows_written", "total_rows"]
    list_display_links = ["created_at", "description"]
    list_filter = ["kind", "status", "fmt"]
    list_select_related = ["created_by", "store"]
    list_per_page = 50
    actions = ["run_again"]

    @admin.display(description=gettext_lazy("what"))
    def description(self, job: ExportJob) -> str:
        return job.description

    # The admin asks these on every page, for its app list: the view permission is a model permission
    # Django has already loaded (both HQ roles have it: stores.roles), no query of its own. The pages
    # check the role's action as well.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return visible_export_jobs(request.user).select_related(*self.list_select_related)

    def get_list_display(self, request):
        # Whoever sees only their own exports needs no column saying whose they are.
        if can_see_every_export(request.user):
            return self.list_display
        return [field for field in self.list_display if field != "created_by"]

    def changelist_view(self, request, extra_context=None):
        if not can_export(request.user):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:members_exportjob_changelist")

    @admin.action(description=gettext_lazy("Write the selected exports again (failed or stopped ones)"))
    def run_again(self, request, queryset):
        run_jobs_again(request, queryset, export_job_retry)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return job_view(request, object_id, model_admin=self)

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(partial(fn, model_admin=self))

        return [
            path("<int:object_id>/progress/", view(progress_view), name="members_exportjob_progress"),
            path("<int:object_id>/download/", view(download_view), name="members_exportjob_download"),
            path("<int:object_id>/retry/", view(retry_view), name="members_exportjob_retry"),
            *super().get_urls(),
        ]
