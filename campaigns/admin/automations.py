"""Automations in the back office: the list (with the members reached in 30 days), the form (trigger,
conditions, actions, win-back by churn reason as three rows of selects, frequency and quiet hours),
Activate / Deactivate, "Run now", a dry run that says how many members it would reach now, and the list
of its effects (who, when, which occurrence, the reason, what was done or why nothing was).

HQ admins and marketers: their role groups hold the model permissions (stores.roles), and the pages of
this module's own views check MANAGE_CAMPAIGNS; store staff never reach the back office. Every write goes
through campaigns.services.automations.
"""

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.admin.automation_forms import AutomationForm
from campaigns.churn import ChurnReason
from campaigns.models import Automation, AutomationEffect
from campaigns.segments import SegmentRuleError
from campaigns.selectors.automations import EVENT_TRIGGERS, automation_effects, automations_admin, occurrence_label
from campaigns.services.automations import (
    COUPON_UNUSABLE,
    FREQUENCY_CAP,
    HOLDOUT,
    automation_activate,
    automation_deactivate,
    automation_run,
    automation_run_request,
    automation_save,
)
from loyalty.admin import FullWidthChangelistMixin
from loyalty.admin_views import _context
from members.phones import sees_full_phones, shown_phone
from stores.permissions import staff_can
from stores.roles import Action

EFFECTS_PER_PAGE = 50
SKIPPED = {
    HOLDOUT: gettext_lazy("Held out, to measure the effect"),
    FREQUENCY_CAP: gettext_lazy("Not done: frequency cap reached"),
    COUPON_UNUSABLE: gettext_lazy("Not done: the member cannot use the coupon (not of its tiers)"),
    "coupon_quantity_exhausted": gettext_lazy("Not done: the coupon's quantity is used up"),
    "coupon_template_inactive": gettext_lazy("Not done: the coupon is not active"),
    "coupon_template_expired": gettext_lazy("Not done: the coupon's validity has ended"),
    "template_invalid": gettext_lazy("Not done: the message template cannot be sent"),
}


def _may_manage(request) -> bool:
    return staff_can(request.user, Action.MANAGE_CAMPAIGNS)


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


def effect_outcome(effect: AutomationEffect) -> str:
    """What an effect did, or why it did nothing, in a line."""
    if effect.skipped:
        label = SKIPPED.get(effect.skipped)
        return str(label) if label else _("Not done: %(code)s") % {"code": effect.skipped}
    done = []
    if effect.coupon_id:
        done.append(_("coupon %(code)s") % {"code": effect.coupon.code})
    if effect.points:
        done.append(_("%(points)d points") % {"points": effect.points})
    if effect.message_id:
        done.append(_("message: %(status)s") % {"status": effect.message.get_status_display()})
    return "; ".join(done) or _("Reached")


def effect_url(automation: Automation) -> str | None:
    """The campaigns engineer's effect/ROI page of an automation, where it exists."""
    try:
        return reverse("admin:campaigns_automation_effect", args=[automation.pk])
    except NoReverseMatch:
        return None


@admin.register(Automation)
class AutomationAdmin(FullWidthChangelistMixin, admin.ModelAdmin):
    form = AutomationForm
    change_form_template = "admin/campaigns/automation/change_form.html"
    list_display = ["name", "trigger", "days_shown", "is_active", "reached_shown"]
    list_filter = ["trigger", "is_active"]
    search_fields = ["name"]
    show_facets = admin.ShowFacets.NEVER
    actions = ["activate_selected", "deactivate_selected"]
    fieldsets = [
        (gettext_lazy("Trigger"), {"fields": ["name", "trigger", "days"]}),
        (
            gettext_lazy("Conditions"),
            {
                "fields": ["segment"],
                "description": gettext_lazy("Only the members of this segment; empty: every member the trigger finds."),
            },
        ),
        (
            gettext_lazy("Actions"),
            {"fields": ["coupon_template", "points", "message_template", ("multiplier", "multiplier_days")]},
        ),
        (
            gettext_lazy("Frequency and quiet hours"),
            {"fields": [("max_per_member", "cap_days"), ("quiet_start", "quiet_end"), "holdout_percent"]},
        ),
    ]

    def has_delete_permission(self, request, obj=None):
        # An automation that reached members keeps its effects (they measure it): deactivate it instead.
        if obj is not None and AutomationEffect.objects.filter(automation=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        return automations_admin(super().get_queryset(request))

    @admin.display(description=gettext_lazy("N (days)"), ordering="days")
    def days_shown(self, automation: Automation) -> str:
        if automation.trigger in EVENT_TRIGGERS or automation.trigger == Automation.Trigger.CHURN_RISK:
            return "—"
        return str(automation.days)

    @admin.display(description=gettext_lazy("reached in 30 days"), ordering="reached_30d")
    def reached_shown(self, automation: Automation) -> int:
        return automation.reached_30d

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = automation_save(
            actor=request.user,
            automation=obj if change else None,
            name=data["name"],
            trigger=data["trigger"],
            days=data.get("days"),
            segment=data.get("segment"),
            coupon_template=data.get("coupon_template"),
            points=data.get("points") or 0,
            message_template=data.get("message_template"),
            multiplier=data.get("multiplier") or 1,
            multiplier_days=data.get("multiplier_days") or 0,
            actions_by_reason=data.get("actions_by_reason") or {},
            max_per_member=data["max_per_member"],
            cap_days=data["cap_days"],
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            holdout_percent=data.get("holdout_percent"),
        )
        obj.pk, obj._state = saved.pk, saved._state
        obj.__dict__.update({f.attname: getattr(saved, f.attname) for f in saved._meta.concrete_fields})

    def _switch_all(self, request, queryset, *, active: bool):
        switch = automation_activate if active else automation_deactivate
        done = 0
        for automation in queryset.select_related("segment", "coupon_template", "message_template"):
            try:
                done += switch(automation=automation, actor=request.user)
            except ValidationError as error:
                self.message_user(request, f"{automation.name}: {' '.join(error.messages)}", messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext("%(count)d automation switched.", "%(count)d automations switched.", done) % {"count": done},
            )

    @admin.action(description=gettext_lazy("Activate selected automations"))
    def activate_selected(self, request, queryset):
        self._switch_all(request, queryset, active=True)

    @admin.action(description=gettext_lazy("Deactivate selected automations"))
    def deactivate_selected(self, request, queryset):
        self._switch_all(request, queryset, active=False)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not _may_manage(request):
            actions.pop("activate_selected", None)
            actions.pop("deactivate_selected", None)
        return actions

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The win-back rows need the width of a 1024-pixel screen more than the app navigation.
        extra = {"reasons": ChurnReason.choices, "is_nav_sidebar_enabled": False, **(extra_context or {})}
        if object_id is not None and object_id.isdigit():
            extra["effect_url"] = effect_url(Automation(pk=int(object_id)))
            extra["is_event_trigger"] = Automation.objects.filter(pk=object_id, trigger__in=EVENT_TRIGGERS).exists()
        return super().changeform_view(request, object_id, form_url, extra)

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(partial(function, model_admin=self))

        return [
            path("<int:automation_id>/switch/", view(automation_switch_view), name="campaigns_automation_switch"),
            path("<int:automation_id>/run/", view(automation_run_view), name="campaigns_automation_run"),
            path("<int:automation_id>/dry-run/", view(automation_dry_run_view), name="campaigns_automation_dry_run"),
            path("<int:automation_id>/effects/", view(automation_effects_view), name="campaigns_automation_effects"),
            *super().get_urls(),
        ]


def _automation_or_refuse(request, automation_id: int) -> Automation:
    if not _may_manage(request):
        raise PermissionDenied
    return get_object_or_404(Automation.objects.select_related("segment"), pk=automation_id)


def _change_url(automation: Automation) -> str:
    return reverse("admin:campaigns_automation_change", args=[automation.pk])


def automation_switch_view(request, automation_id: int, *, model_admin):
    """POST active=1 or 0 from the change page's Activate / Deactivate button."""
    automation = _automation_or_refuse(request, automation_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    active = request.POST.get("active") == "1"
    try:
        if active:
            automation_activate(automation=automation, actor=request.user)
        else:
            automation_deactivate(automation=automation, actor=request.user)
    except ValidationError as error:
        messages.error(request, _("Not activated: %(why)s") % {"why": " ".join(error.messages)})
    else:
        messages.success(
            request,
            _("“%(name)s” is active: it runs every hour.") % {"name": automation.name}
            if active
            else _("“%(name)s” is switched off.") % {"name": automation.name},
        )
    return HttpResponseRedirect(_change_url(automation))


def automation_run_view(request, automation_id: int, *, model_admin):
    """POST: run the automation's trigger now (in a task; at once in the embedded mode)."""
    automation = _automation_or_refuse(request, automation_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        automation_run_request(automation=automation, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("“%(name)s” is running now; the members it reaches appear in its effects.") % {"name": automation.name},
        )
    return HttpResponseRedirect(reverse("admin:campaigns_automation_effects", args=[automation.pk]))


def automation_dry_run_view(request, automation_id: int, *, model_admin):
    """How many members the automation would reach now, and why the others not; writes nothing."""
    automation = _automation_or_refuse(request, automation_id)
    result, error = None, ""
    if automation.trigger in EVENT_TRIGGERS:
        error = _("This automation runs when its event happens to a member; there is nothing to count in advance.")
    else:
        try:
            result = automation_run(automation, dry_run=True)
        except SegmentRuleError:
            error = _("Its segment's rules cannot be used: correct the segment first.")
    return TemplateResponse(
        request,
        "admin/campaigns/automation/dry_run.html",
        _context(
            request,
            model_admin,
            _("Dry run of “%(name)s”") % {"name": automation.name},
            original=automation,
            result=result,
            error=error,
        ),
    )


def automation_effects_view(request, automation_id: int, *, model_admin):
    """The members it reached (or held out, or skipped), newest first, with masked phones for marketers."""
    automation = _automation_or_refuse(request, automation_id)
    full_phones = sees_full_phones(request.user)
    page = Paginator(automation_effects(automation), EFFECTS_PER_PAGE).get_page(request.GET.get("page"))
    reasons = dict(ChurnReason.choices)
    rows = [
        {
            "member": effect.member,
            "phone": shown_phone(effect.member.phone, full=full_phones),
            "when": _local(effect.created_at),
            "occurrence": occurrence_label(effect.occurrence),
            "reason": reasons.get(effect.reason, effect.reason) or "—",
            "outcome": effect_outcome(effect),
            "skipped": bool(effect.skipped),
        }
        for effect in page.object_list
    ]
    return TemplateResponse(
        request,
        "admin/campaigns/automation/effects.html",
        _context(
            request,
            model_admin,
            _("Effects of “%(name)s”") % {"name": automation.name},
            original=automation,
            page=page,
            rows=rows,
            effect_url=effect_url(automation),
        ),
    )
