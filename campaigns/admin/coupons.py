"""Coupons in the back office: templates (audited like the loyalty rules), the coupons issued from them
(read-only, voided with a reason), and a page to issue one coupon to one member.

Bulk issues to a segment are made by campaigns; the coupons list shows them with their source.
"""

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.codes import looks_like_coupon_code, normalize_coupon_code
from campaigns.forms import CouponIssueForm, CouponTemplateForm
from campaigns.models import Coupon, CouponTemplate
from campaigns.selectors import coupon_counts_by_status, coupon_templates_to_issue
from campaigns.services.coupons import coupon_issue_request, coupon_void
from config.pagination import EstimatedCountPaginator
from loyalty.admin import FullWidthChangelistMixin, RuleChangeAuditMixin
from loyalty.admin_views import _context
from members.models import Member
from members.phones import sees_full_phones, shown_phone
from members.selectors import member_search_filter
from stores.permissions import staff_can
from stores.roles import Action

from .actions import run_with_reason


def _number(value) -> str:
    """200.00 → "200", 12.50 → "12.50": amounts as a coupon's face shows them."""
    return number_format(value, decimal_pos=2, force_grouping=True).removesuffix(".00")


def _yuan(value) -> str:
    return "¥" + _number(value)


def coupon_terms(template: CouponTemplate) -> str:
    """满¥200减¥50, 10% off (at most ¥30), ¥10 off, 拿铁一杯 (at most ¥32): what a coupon gives, in a line."""
    kind = template.kind
    if kind == CouponTemplate.Kind.THRESHOLD_OFF:
        return _("¥%(amount)s off from ¥%(threshold)s") % {
            "amount": _number(template.amount),
            "threshold": _number(template.threshold),
        }
    if kind == CouponTemplate.Kind.AMOUNT_OFF:
        return _("%(amount)s off") % {"amount": _yuan(template.amount)}
    if kind == CouponTemplate.Kind.PERCENT_OFF:
        percent = format(template.percent_off.normalize(), "f")
        text = _("%(percent)s%% off") % {"percent": percent}
        if template.max_discount is not None:
            text += " " + _("(at most %(cap)s)") % {"cap": _yuan(template.max_discount)}
        if template.threshold:
            text += " " + _("from %(threshold)s") % {"threshold": _yuan(template.threshold)}
        return text
    return _("%(gift)s (at most %(value)s)") % {"gift": template.gift_name, "value": _yuan(template.gift_value)}


def _can_issue(request) -> bool:
    return staff_can(request.user, Action.MANAGE_CAMPAIGNS)


class KeepCountersMixin:
    """Saving a row from its form writes every field it has except the counters services move (a
    coupon template's issued count, a mall item's stock): a save never overwrites a concurrent issue."""

    counters: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()
            return
        fields = [
            f.name
            for f in obj._meta.concrete_fields
            if not f.primary_key and f.name not in self.counters and not getattr(f, "auto_now_add", False)
        ]
        obj.save(update_fields=fields)


@admin.register(CouponTemplate)
class CouponTemplateAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, KeepCountersMixin, admin.ModelAdmin):
    form = CouponTemplateForm
    counters = ("issued_count",)
    list_display = [
        "name",
        "kind",
        "terms",
        "validity_shown",
        "issued_shown",
        "per_member_limit",
        "stackable",
        "on_registration",
        "is_active",
    ]
    list_filter = ["kind", "is_active", "on_registration"]
    search_fields = ["name"]
    show_facets = admin.ShowFacets.NEVER
    filter_horizontal = ["tiers", "stores"]
    readonly_fields = ["issued_count", "coupons_by_status"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "is_active"]}),
        (
            gettext_lazy("What it gives"),
            {"fields": ["amount", "threshold", "percent_off", "max_discount", "gift_name", "gift_value"]},
        ),
        (gettext_lazy("Where and for whom"), {"fields": ["categories", "channels", "stores", "tiers", "stackable"]}),
        (gettext_lazy("Validity"), {"fields": ["validity", "valid_days", "valid_from", "valid_until"]}),
        (
            gettext_lazy("Quantities"),
            {"fields": ["total_quantity", "per_member_limit", "issued_count", "coupons_by_status", "on_registration"]},
        ),
        (gettext_lazy("Audit"), {"fields": ["change_reason"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers", "stores")

    @admin.display(description=gettext_lazy("gives"))
    def terms(self, template: CouponTemplate) -> str:
        return coupon_terms(template)

    @admin.display(description=gettext_lazy("validity"))
    def validity_shown(self, template: CouponTemplate) -> str:
        if template.valid_days is not None:
            return _("%(days)d days after issue") % {"days": template.valid_days}
        start = timezone.localtime(template.valid_from).strftime("%Y-%m-%d") if template.valid_from else "…"
        end = timezone.localtime(template.valid_until).strftime("%Y-%m-%d %H:%M") if template.valid_until else "…"
        return f"{start} – {end}"

    @admin.display(description=gettext_lazy("issued"), ordering="issued_count")
    def issued_shown(self, template: CouponTemplate) -> str:
        if template.total_quantity is None:
            return number_format(template.issued_count, force_grouping=True)
        return f"{number_format(template.issued_count, force_grouping=True)} / " + number_format(
            template.total_quantity, force_grouping=True
        )

    @admin.display(description=gettext_lazy("coupons"))
    def coupons_by_status(self, template: CouponTemplate) -> str:
        if template.pk is None:
            return "—"
        counts = coupon_counts_by_status(template)
        url = reverse("admin:campaigns_coupon_changelist") + f"?template__id__exact={template.pk}"
        parts = ", ".join(f"{label}: {counts.get(value, 0)}" for value, label in Coupon.Status.choices)
        return format_html('<a href="{}">{}</a>', url, parts)

    def has_delete_permission(self, request, obj=None):
        # A template that issued coupons stays (its coupons name it); deactivate it instead.
        if obj is not None and obj.issued_count:
            return False
        return super().has_delete_permission(request, obj)

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"can_issue_coupons": _can_issue(request), **(extra_context or {})})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = {"can_issue_coupons": _can_issue(request), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra)


class CouponStatusFilter(admin.SimpleListFilter):
    """Issued, used, voided, and expired (issued but past its validity), which is not a stored status."""

    title = gettext_lazy("status")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("usable", _("Usable now")),
            ("expired", _("Expired unused")),
            ("used", _("Used")),
            ("void", _("Voided")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "usable":
            return queryset.filter(status=Coupon.Status.ISSUED, valid_until__gt=now)
        if value == "expired":
            return queryset.filter(status=Coupon.Status.ISSUED, valid_until__lte=now)
        if value in (Coupon.Status.USED, Coupon.Status.VOID):
            return queryset.filter(status=value)
        return queryset


@admin.register(Coupon)
class CouponAdmin(FullWidthChangelistMixin, admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    # By the primary key: the newest first, from an index, at any number of coupons.
    ordering = ["-id"]
    list_display = [
        "code",
        "member",
        "phone_masked",
        "template",
        "state",
        "source",
        "valid_until_shown",
        "sale_link",
        "discount",
    ]
    list_select_related = ["member", "template"]
    list_filter = [CouponStatusFilter, "source", ("template", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code"]
    search_help_text = gettext_lazy(
        "A coupon code, or a member's code, full phone number, or the start of a phone number or name."
    )
    actions = ["void_coupons"]
    fieldsets = [
        (None, {"fields": ["code", "template", "member", "status", "source", "issue_key"]}),
        (gettext_lazy("Validity"), {"fields": ["valid_from", "valid_until", "issued_at", "issued_by"]}),
        (gettext_lazy("Where from"), {"fields": ["campaign", "automation"]}),
        (gettext_lazy("Use"), {"fields": ["sale", "used_at", "discount"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for _title, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not _can_issue(request):
            actions.pop("void_coupons", None)
        return actions

    def get_search_results(self, request, queryset, search_term):
        text = search_term.strip()
        if not text:
            return queryset, False
        condition = Q(code=normalize_coupon_code(text)) if looks_like_coupon_code(text) else Q(pk__in=[])
        members = member_search_filter(text)
        if members is not None:
            condition |= Q(member__in=Member.objects.filter(members).values("pk"))
        return queryset.filter(condition), False

    @admin.display(description=gettext_lazy("phone"))
    def phone_masked(self, coupon: Coupon) -> str:
        return shown_phone(coupon.member.phone, full=False)

    @admin.display(description=gettext_lazy("phone"))
    def phone_full(self, coupon: Coupon) -> str:
        return shown_phone(coupon.member.phone, full=True)

    def get_list_display(self, request):
        shown = "phone_full" if sees_full_phones(request.user) else "phone_masked"
        return [shown if name == "phone_masked" else name for name in self.list_display]

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def state(self, coupon: Coupon) -> str:
        if coupon.status == Coupon.Status.ISSUED and coupon.valid_until <= timezone.now():
            return _("Expired")
        return coupon.get_status_display()

    @admin.display(description=gettext_lazy("valid until"), ordering="valid_until")
    def valid_until_shown(self, coupon: Coupon) -> str:
        return timezone.localtime(coupon.valid_until).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=gettext_lazy("sale"), ordering="sale_id")
    def sale_link(self, coupon: Coupon):
        if coupon.sale_id is None:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:loyalty_sale_change", args=[coupon.sale_id]), coupon.sale_id
        )

    @admin.action(description=gettext_lazy("Void selected coupons…"))
    def void_coupons(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset.select_related("member"),
            action="void_coupons",
            title=_("Void coupons"),
            button=_("Void them"),
            run=lambda coupon, reason: coupon_void(coupon=coupon, actor=request.user, reason=reason),
            describe=lambda coupon: f"{coupon.code} · {coupon.member}",
        )

    def get_urls(self):
        view = self.admin_site.admin_view(partial(coupon_issue_view, model_admin=self))
        return [path("issue/", view, name="campaigns_coupon_issue"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"can_issue_coupons": _can_issue(request), **(extra_context or {})})


def coupon_issue_view(request, *, model_admin):
    """One coupon of a template to one member (member by code or full phone), through coupon_issue_request."""
    if not _can_issue(request):
        raise PermissionDenied
    templates = coupon_templates_to_issue()
    if request.method == "POST":
        form = CouponIssueForm(request.POST, templates=templates)
        if form.is_valid():
            member = form.member_obj
            try:
                with transaction.atomic():
                    coupon = coupon_issue_request(
                        request_id=form.cleaned_data["request_id"],
                        template=form.cleaned_data["template"],
                        member=member,
                        actor=request.user,
                        issue_anyway=form.cleaned_data["issue_anyway"],
                    )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(
                    request,
                    _("Coupon %(code)s (%(name)s) issued to %(member)s (%(member_code)s), valid until %(end)s.")
                    % {
                        "code": coupon.code,
                        "name": coupon.template.name,
                        "member": member.name,
                        "member_code": member.code,
                        "end": timezone.localtime(coupon.valid_until).strftime("%Y-%m-%d %H:%M"),
                    },
                )
                return redirect(reverse("admin:campaigns_coupon_issue") + f"?template={coupon.template_id}")
    else:
        initial = {"member": request.GET.get("member", "")[:64]}
        chosen = request.GET.get("template", "")
        if chosen.isdigit():
            initial["template"] = int(chosen)
        form = CouponIssueForm(initial=initial, templates=templates)
    return TemplateResponse(
        request,
        "admin/campaigns/coupon/issue.html",
        _context(request, model_admin, _("Issue a coupon to a member"), form=form, has_templates=templates.exists()),
    )
