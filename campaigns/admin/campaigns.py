"""Campaigns in the back office: the list, the form (checked by the service's own validation), the
Schedule / Launch now / Cancel buttons of the change page (POST, confirmed) and the effect page.

Writes go through campaigns.services.campaigns; a launched campaign is read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign
from campaigns.selectors.campaigns import campaign_by_id, campaign_list
from campaigns.services.campaigns import (
    EDITABLE_STATUSES,
    CampaignFields,
    campaign_cancel,
    campaign_coupon_audience,
    campaign_create,
    campaign_launch,
    campaign_schedule,
    campaign_update,
    campaign_validate,
)
from loyalty.admin import FullWidthChangelistMixin
from stores.permissions import staff_can
from stores.roles import Action

from .effect import campaign_effect_view

FIELDS = [
    "name",
    "segment",
    "starts_at",
    "ends_at",
    "holdout_percent",
    "coupon_template",
    "coupon_to_everyone",
    "points",
    "multiplier",
    "message_template",
]


def _fields(data: dict) -> CampaignFields:
    return CampaignFields(
        name=data.get("name") or "",
        segment=data.get("segment"),
        starts_at=data.get("starts_at"),
        ends_at=data.get("ends_at"),
        holdout_percent=data.get("holdout_percent"),
        coupon_template=data.get("coupon_template"),
        points=data.get("points") or 0,
        multiplier=data.get("multiplier"),
        message_template=data.get("message_template"),
        coupon_to_everyone=bool(data.get("coupon_to_everyone")),
    )


class CampaignForm(forms.ModelForm):
    """The campaign's fields, checked by campaign_validate so the page says what the service would."""

    class Meta:
        model = Campaign
        fields = FIELDS

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            campaign_validate(_fields(data), campaign=self.instance if self.instance.pk else None)
        except ValidationError as error:
            for field_name, errors in error.error_dict.items():
                self.add_error(field_name if field_name in self.fields else None, errors)
        return data

    def _post_clean(self):
        # The model's own checks (dates ordered …) are the service's; constructing the instance is enough.
        from django.forms.models import construct_instance

        self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)


def _may_manage(request) -> bool:
    return staff_can(request.user, Action.MANAGE_CAMPAIGNS)


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


@admin.register(Campaign)
class CampaignAdmin(FullWidthChangelistMixin, admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/campaigns/campaign/change_form.html"
    list_display = ["name", "segment", "status", "window", "groups", "effect_link"]
    list_filter = ["status"]
    search_fields = ["name"]
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["name", "segment", "starts_at", "ends_at", "holdout_percent"]}),
        (
            gettext_lazy("What the target group gets"),
            {"fields": ["coupon_template", "coupon_to_everyone", "points", "multiplier", "message_template"]},
        ),
        (
            gettext_lazy("Launch"),
            {"fields": ["status", "launched_at", "target_count", "holdout_count", "excluded_count"]},
        ),
    ]

    def get_queryset(self, request):
        return campaign_list()

    def get_readonly_fields(self, request, obj=None):
        launch = ["status", "launched_at", "target_count", "holdout_count", "excluded_count"]
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return FIELDS + launch
        return launch

    def has_change_permission(self, request, obj=None):
        # Launched, the campaign is what its members got: its page is read-only (its buttons stay).
        if obj is not None and obj.status not in EDITABLE_STATUSES:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # A launched campaign is the record of what its members got; a draft may go.
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=gettext_lazy("window"), ordering="starts_at")
    def window(self, campaign: Campaign) -> str:
        return f"{_local(campaign.starts_at)} – {_local(campaign.ends_at)}"

    @admin.display(description=gettext_lazy("target / holdout"))
    def groups(self, campaign: Campaign) -> str:
        if campaign.launched_at is None:
            return _("%(percent)s%% held out") % {"percent": number_format(campaign.holdout_percent, decimal_pos=1)}
        return f"{number_format(campaign.target_count, force_grouping=True)} / " + number_format(
            campaign.holdout_count, force_grouping=True
        )

    @admin.display(description=gettext_lazy("effect"))
    def effect_link(self, campaign: Campaign):
        if campaign.launched_at is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_campaign_effect", args=[campaign.pk]), _("Effect")
        )

    def save_model(self, request, obj, form, change):
        fields = _fields(form.cleaned_data)
        if change:
            saved = campaign_update(actor=request.user, campaign=obj, fields=fields)
        else:
            saved = campaign_create(actor=request.user, fields=fields)
        obj.pk, obj._state = saved.pk, saved._state
        obj.__dict__.update({f: getattr(saved, f) for f in ("status", "created_by_id", "created_at")})

    def get_urls(self):
        site = self.admin_site
        return [
            path("<int:pk>/effect/", site.admin_view(campaign_effect_view), name="campaigns_campaign_effect"),
            path("<int:pk>/schedule/", site.admin_view(self.schedule_view), name="campaigns_campaign_schedule"),
            path("<int:pk>/launch/", site.admin_view(self.launch_view), name="campaigns_campaign_launch"),
            path("<int:pk>/cancel/", site.admin_view(self.cancel_view), name="campaigns_campaign_cancel"),
            *super().get_urls(),
        ]

    def _act(self, request, pk: int, run, done: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not _may_manage(request):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=pk)
        try:
            message = run(campaign)
        except ValidationError as error:
            for text in error.messages:
                self.message_user(request, text, messages.ERROR)
        else:
            self.message_user(request, message or done, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))

    def schedule_view(self, request, pk: int):
        return self._act(
            request,
            pk,
            lambda c: campaign_schedule(actor=request.user, campaign=c) and None,
            _("Scheduled: it launches by itself when it starts."),
        )

    def launch_view(self, request, pk: int):
        def run(campaign):
            result = campaign_launch(actor=request.user, campaign=campaign)
            if not result.launched:
                return _("The campaign was launched before: nothing more was done.")
            text = _(
                "Launched: %(target)s members in the target group, %(holdout)s held out; %(coupons)s coupons issued."
            ) % {
                "target": number_format(result.target, force_grouping=True),
                "holdout": number_format(result.holdout, force_grouping=True),
                "coupons": number_format(result.coupons, force_grouping=True),
            }
            if result.excluded:
                text += " " + _("%(excluded)s members of the segment were left out: they cannot use the coupon.") % {
                    "excluded": number_format(result.excluded, force_grouping=True)
                }
            if result.overlapping:
                text += " " + _(
                    "Other campaigns give points multipliers in the same window (%(names)s): a member in both gets "
                    "the best one, once."
                ) % {"names": "、".join(result.overlapping)}
            return text

        return self._act(request, pk, run, "")

    def cancel_view(self, request, pk: int):
        return self._act(
            request,
            pk,
            lambda c: campaign_cancel(actor=request.user, campaign=c, reason=request.POST.get("reason", "")) and None,
            _("Cancelled. Coupons issued and points awarded stay with the members."),
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = {
            "can_manage_campaign": _may_manage(request),
            "coupon_audience": _coupon_audience_note(object_id) if request.method == "GET" else None,
            **(extra_context or {}),
        }
        return super().changeform_view(request, object_id, form_url, extra)


def _coupon_audience_note(object_id) -> dict | None:
    """Before launch, how many of the segment can use the coupon: what "Launch now" would issue to."""
    campaign = campaign_by_id(object_id) if object_id and str(object_id).isdigit() else None
    if campaign is None or campaign.status not in EDITABLE_STATUSES or campaign.coupon_template_id is None:
        return None
    try:
        audience = campaign_coupon_audience(campaign)
    except ValidationError as error:
        return {"error": " ".join(error.messages)}
    return {"audience": audience, "text": audience.describe(), "to_everyone": campaign.coupon_to_everyone}
