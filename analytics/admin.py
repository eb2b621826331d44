import io

from django.contrib import admin
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone

from analytics.models import MemberScore, ScoreSettings, ScoringRun, SegmentSnapshot
from analytics.report import write_churn_report
from stores.permissions import staff_can
from stores.roles import Action
from stores.services import audit_record

CHURN_REPORT_EXPORTED = "analytics.churn_report_exported"


@admin.register(ScoreSettings)
class ScoreSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "dormant_days", "gap_multiplier", "spend_window_days", "spend_drop_share", "updated_at"]

    # The one row is created by migration 0002 (no query here: the admin's app list asks on every page).
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MemberScore)
class ChurnReportAdmin(_ReadOnly):
    list_display = [
        "member",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "segment",
        "p_alive",
        "expected_purchases_90d",
        "churn_level",
        "churn_reason",
    ]
    list_filter = ["segment", "churn_level", "churn_reason"]
    search_fields = ["member__phone", "member__code"]
    list_select_related = ["member"]
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/analytics/memberscore/change_list.html"

    def get_urls(self):
        return [
            path("csv/", self.admin_site.admin_view(self.download), name="analytics_memberscore_csv"),
            *super().get_urls(),
        ]

    def download(self, request):
        if not self.has_view_permission(request) or not staff_can(request.user, Action.EXPORT_DATA):
            return HttpResponse(status=403)
        changelist = self.get_changelist_instance(request)
        buffer = io.StringIO()
        rows = write_churn_report(buffer, changelist.get_queryset(request))
        audit_record(
            actor=request.user,
            action=CHURN_REPORT_EXPORTED,
            data={"rows": rows, "filters": dict(request.GET.lists())},
        )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="churn-report-{timezone.localdate()}.csv"'
        return response


@admin.register(ScoringRun)
class ScoringRunAdmin(_ReadOnly):
    list_display = [
        "as_of",
        "started_at",
        "finished_at",
        "members_scored",
        "at_risk",
        "fitted",
        "fit_r",
        "fit_alpha",
        "fit_a",
        "fit_b",
        "note",
    ]


@admin.register(SegmentSnapshot)
class SegmentSnapshotAdmin(_ReadOnly):
    list_display = ["month", "segment", "members", "stayed", "moved_in", "new"]
    list_filter = ["segment"]
