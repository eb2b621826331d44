from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.formats import number_format
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from analytics.exports import churn_report_export
from analytics.forms import ScoreSettingsForm
from analytics.models import MemberScore, ScoreSettings, ScoringRun, SegmentSnapshot
from analytics.report import as_percent, two_places
from config import tabular
from loyalty.admin import RuleChangeAuditMixin
from members.access import search_for_audit
from members.models import Member
from members.phones import sees_full_phones, shown_phone
from members.selectors import member_search_filter
from stores.permissions import staff_can
from stores.roles import Action


@admin.register(ScoreSettings)
class ScoreSettingsAdmin(RuleChangeAuditMixin, admin.ModelAdmin):
    """Marketers read the churn rules' thresholds (their role has analytics' view permissions only, see
    stores.roles); HQ admins change them, each change audited with its reason."""

    form = ScoreSettingsForm
    list_display = ["__str__", "dormant_days", "gap_multiplier", "spend_window_days", "spend_drop_share", "updated_at"]
    readonly_fields = ["updated_at"]

    def get_fields(self, request, obj=None):
        fields = [*ScoreSettingsForm.Meta.fields, "updated_at"]
        return [*fields, "change_reason"] if self.has_change_permission(request, obj) else fields

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
        "phone_masked",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "segment",
        "p_alive_shown",
        "expected_shown",
        "churn_level",
        "churn_reason",
    ]
    list_filter = ["segment", "churn_level", "churn_reason"]
    # The search itself is the members' (members.selectors.member_search_filter): the phone is encrypted,
    # found by the blind indexes of the whole number or of its first digits, and the code exactly.
    search_fields = ["member__code"]
    search_help_text = gettext_lazy("Full or partial phone (138…), member code, or the start of a name.")
    list_select_related = ["member"]
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "admin/analytics/memberscore/change_list.html"

    def get_search_results(self, request, queryset, search_term):
        condition = member_search_filter(search_term)
        if condition is None:
            return queryset, False
        return queryset.filter(member__in=Member.objects.filter(condition).values("pk")), False

    @admin.display(description=gettext_lazy("phone"))
    def phone_masked(self, score: MemberScore) -> str:
        return shown_phone(score.member.phone, full=False)

    @admin.display(description=gettext_lazy("phone"))
    def phone_full(self, score: MemberScore) -> str:
        return shown_phone(score.member.phone, full=True)

    def get_list_display(self, request):
        shown = "phone_full" if sees_full_phones(request.user) else "phone_masked"
        return [shown if name == "phone_masked" else name for name in self.list_display]

    @admin.display(description=gettext_lazy("P(alive)"), ordering="p_alive")
    def p_alive_shown(self, score: MemberScore) -> str:
        if score.p_alive is None:
            return "—"
        return f"{number_format(as_percent(score.p_alive), decimal_pos=1)}%"

    @admin.display(description=gettext_lazy("expected purchases in 90 days"), ordering="expected_purchases_90d")
    def expected_shown(self, score: MemberScore) -> str:
        if score.expected_purchases_90d is None:
            return "—"
        return number_format(two_places(score.expected_purchases_90d), decimal_pos=2)

    def get_urls(self):
        return [
            path("csv/", self.admin_site.admin_view(self.download), name="analytics_memberscore_csv"),
            *super().get_urls(),
        ]

    def download(self, request):
        if not self.has_view_permission(request) or not staff_can(request.user, Action.EXPORT_DATA):
            return HttpResponse(status=403)
        query = request.GET.copy()
        wanted = query.pop("format", [tabular.CSV])[-1]
        request.GET = query  # the list's own filters, without the export's
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            messages.error(request, _("The report's filters are not valid; choose them again from the list."))
            return redirect("admin:analytics_memberscore_changelist")
        try:
            export = churn_report_export(
                actor=request.user,
                queryset=changelist.get_queryset(request),
                fmt=wanted or tabular.CSV,
                language="en" if (get_language() or "").startswith("en") else "zh",
                filters=dict(search_for_audit(request.GET, term=changelist.query).lists()),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("admin:analytics_memberscore_changelist")
        return export.http_response()


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
