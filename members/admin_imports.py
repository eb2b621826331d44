"""The members import in the back office (HQ staff whose role may edit members: the HQ admin).

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

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from members.imports.forms import MemberImportForm
from members.imports.jobs import import_job_create, job_progress
from members.imports.template import template_csv
from members.models import ImportJob
from stores.permissions import staff_can
from stores.roles import Action


def can_import_members(user) -> bool:
    return staff_can(user, Action.EDIT_MEMBERS)


def _require(request) -> None:
    if not can_import_members(request.user):
        raise PermissionDenied


def _context(request, model_admin, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "template_url": reverse("admin:members_importjob_template"),
        "upload_url": reverse("admin:members_importjob_upload"),
        **extra,
    }


def upload_view(request, *, model_admin):
    _require(request)
    if request.method == "POST":
        form = MemberImportForm(request.POST, request.FILES)
        if form.is_valid():
            job = import_job_create(
                actor=request.user,
                upload=form.cleaned_data["file"],
                mode=form.cleaned_data["mode"],
                dry_run=form.cleaned_data["dry_run"],
                language=get_language() or "zh-hans",
            )
            return redirect("admin:members_importjob_change", job.pk)
    else:
        form = MemberImportForm()
    return TemplateResponse(
        request, "admin/members/importjob/upload.html", _context(request, model_admin, _("Import members"), form=form)
    )


def job_view(request, object_id, *, model_admin):
    _require(request)
    if not str(object_id).isdigit():
        raise Http404
    job = get_object_or_404(ImportJob.objects.select_related("created_by"), pk=object_id)
    return TemplateResponse(
        request,
        "admin/members/importjob/job.html",
        _context(
            request,
            model_admin,
            _("Members import: %(file)s") % {"file": job.file_name},
            job=job,
            progress=job_progress(job),
            progress_url=reverse("admin:members_importjob_progress", args=[job.pk]),
            error_report_url=reverse("admin:members_importjob_errors", args=[job.pk]) if job.error_report else "",
        ),
    )


@never_cache
def progress_view(request, object_id, *, model_admin):
    _require(request)
    job = get_object_or_404(ImportJob, pk=object_id)
    return JsonResponse(job_progress(job))


def error_report_view(request, object_id, *, model_admin):
    _require(request)
    job = get_object_or_404(ImportJob, pk=object_id)
    if not job.error_report:
        raise Http404
    stem = PurePath(job.file_name).stem or "members"
    return FileResponse(
        job.error_report.open("rb"), as_attachment=True, filename=f"{stem}-errors.csv", content_type="text/csv"
    )


def template_view(request, *, model_admin):
    _require(request)
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="members-template.csv"'
    return response


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Past and running imports; each one's page is its job page (no editing: a job is a record)."""

    list_display = [
        "created_at",
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
    list_filter = ["status", "dry_run", "mode"]
    list_select_related = ["created_by"]
    list_per_page = 50

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
        _require(request)
        return super().changelist_view(request, extra_context)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:members_importjob_upload")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return job_view(request, object_id, model_admin=self)

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(partial(fn, model_admin=self))

        return [
            path("upload/", view(upload_view), name="members_importjob_upload"),
            path("template/", view(template_view), name="members_importjob_template"),
            path("<int:object_id>/progress/", view(progress_view), name="members_importjob_progress"),
            path("<int:object_id>/errors/", view(error_report_view), name="members_importjob_errors"),
            *super().get_urls(),
        ]
