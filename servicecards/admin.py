"""HQ back office for service cards.

Configuration (services, card products, the card settings, service staff with their working hours,
commission rules, rooms) is edited here by the HQ admin; every change is audited like loyalty's rule
changes (loyalty.admin.RuleChangeAuditMixin). Members' cards and their ledger are read-only: they change
only through servicecards.services (sell, use, reverse, freeze, refund ...). Store managers and cashiers
work on the tablet, not here; marketers read everything (their role's servicecards.view_*).
"""

from django.contrib import admin
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty.admin import (
    RULE_CHANGED,
    FullWidthChangelistMixin,
    ReadOnlyLedgerAdmin,
    RuleChangeAuditMixin,
    SingletonAdmin,
    StoreFilter,
)
from members.models import Member
from members.selectors import member_search_filter
from servicecards.admin_forms import (
    CardProductForm,
    CardSettingsForm,
    CommissionRuleForm,
    RoomForm,
    ServiceForm,
    ServiceStaffForm,
    WorkingHoursForm,
)
from servicecards.models import (
    CardEntry,
    CardProduct,
    CardSettings,
    CommissionRule,
    MemberCard,
    Room,
    Service,
    ServiceStaff,
    WorkingHours,
)
from stores.services import audit_record

AUDIT = (_("Audit"), {"fields": ["change_reason"]})


@admin.register(Service)
class ServiceAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = ServiceForm
    list_display = ["code", "name", "duration_minutes", "price", "next_visit_days", "is_active"]
    list_display_links = ["code", "name"]
    list_filter = ["is_active"]
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [
        (None, {"fields": ["code", "name", "duration_minutes", "price", "next_visit_days", "is_active"]}),
        AUDIT,
    ]


@admin.register(CardProduct)
class CardProductAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = CardProductForm
    list_display = ["code", "name", "kind", "uses", "bonus_uses", "price", "validity_months", "scope", "is_active"]
    list_display_links = ["code", "name"]
    list_filter = ["kind", "is_active"]
    show_facets = admin.ShowFacets.NEVER
    filter_horizontal = ["services", "stores"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "price", "is_active"]}),
        (_("What it buys"), {"fields": ["services", ("uses", "bonus_uses"), ("cap_per_day", "cap_per_week")]}),
        (_("Validity"), {"fields": ["validity_months", "valid_from", "transferable"]}),
        (_("Where"), {"fields": ["stores"]}),
        AUDIT,
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stores")

    @admin.display(description=_("usable at"))
    def scope(self, product: CardProduct) -> str:
        codes = [store.code for store in product.stores.all()]
        return ", ".join(codes) if codes else gettext("All stores")


@admin.register(CardSettings)
class CardSettingsAdmin(SingletonAdmin):
    form = CardSettingsForm
    readonly_fields = ["updated_at"]
    fieldsets = [
        (_("Using a card"), {"fields": ["use_confirmation"]}),
        (_("Refunds"), {"fields": ["refunds_allowed", "refund_fee_percent"]}),
        (_("Freezing"), {"fields": ["freeze_max_times", "freeze_max_days"]}),
        (_("Appointments"), {"fields": ["no_show_uses", "free_cancel_hours"]}),
        (_("Reminders"), {"fields": ["expiry_warning_days", "low_uses_warning"]}),
        (_("Audit"), {"fields": ["change_reason", "updated_at"]}),
    ]


class WorkingHoursFormSet(BaseInlineFormSet):
    def validate_unique(self):
        # The same start twice on a weekday: said next to each start, as the constraint would, rather than
        # Django's "correct the duplicate data" above the rows.
        constraint = next(c for c in WorkingHours._meta.constraints if c.name == "working_hours_once")
        groups: dict[tuple, list] = {}
        for form in self.forms:
            if not form.is_valid() or self._should_delete_form(form):
                continue
            key = (form.cleaned_data.get("weekday"), form.cleaned_data.get("starts"))
            if None not in key:
                groups.setdefault(key, []).append(form)
        for forms in groups.values():
            if len(forms) > 1:
                for form in forms:
                    form.add_error("starts", constraint.get_violation_error_message())


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    form = WorkingHoursForm
    formset = WorkingHoursFormSet
    extra = 0
    verbose_name = _("working hours")
    verbose_name_plural = _("working hours")


@admin.register(ServiceStaff)
class ServiceStaffAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = ServiceStaffForm
    list_display = ["__str__", "job", "is_bookable"]
    list_filter = ["job", "is_bookable"]
    list_select_related = ["user"]
    show_facets = admin.ShowFacets.NEVER
    filter_horizontal = ["services"]
    raw_id_fields = ["user"]
    inlines = [WorkingHoursInline]
    fieldsets = [(None, {"fields": ["user", "job", "services", "is_bookable"]}), AUDIT]

    def save_formset(self, request, form, formset, change):
        # The change page runs in one transaction (Django's changeform_view): the hours and their audit too.
        changed = formset.has_changed()
        super().save_formset(request, form, formset, change)
        if changed and formset.model is WorkingHours:
            audit_record(
                actor=request.user,
                action=RULE_CHANGED,
                target=form.instance,
                reason=(form.cleaned_data.get("change_reason") or "").strip()
                or str(_("Working hours changed in the back office")),
                data={
                    "changed": ["hours"],
                    "after": [str(hours) + f" @{hours.store_id}" for hours in form.instance.hours.all()],
                },
            )


@admin.register(CommissionRule)
class CommissionRuleAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = CommissionRuleForm
    list_display = ["__str__", "job", "service", "amount", "percent"]
    list_filter = ["job"]
    list_select_related = ["service"]
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [(None, {"fields": ["job", "service", "amount", "percent"]}), AUDIT]


@admin.register(Room)
class RoomAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = RoomForm
    list_display = ["name", "store", "is_active"]
    list_filter = [("store", StoreFilter), "is_active"]
    list_select_related = ["store"]
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [(None, {"fields": ["store", "name", "is_active"]}), AUDIT]


# --- members' cards and their ledger: read-only ---------------------------------------------------


class CardSearchMixin:
    """The search box finds a card by its number, or its member as every member search does."""

    card_code_path = "code"
    search_help_text = _("Card no., member code, full phone number, or the start of a phone number or name.")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(**{self.card_code_path: term})
        members = member_search_filter(term)
        if members is not None:
            condition |= Q(**{f"{self.member_path}__in": Member.objects.filter(members).values("pk")})
        return queryset.filter(condition), False

    @admin.display(description=_("360° view"))
    def member_360(self, obj) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:members_member_360", args=[obj.member_id]), gettext("360°")
        )


def _change_link(model, pk, text) -> str:
    if pk is None:
        return "—"
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(MemberCard)
class MemberCardAdmin(CardSearchMixin, ReadOnlyLedgerAdmin):
    list_display = [
        "code",
        "member",
        "member_360",
        "product",
        "kind",
        "status",
        "uses_remaining",
        "uses_taken",
        "price_paid",
        "store",
        "purchased_at",
        "expires_at",
    ]
    list_select_related = ["member", "product", "store"]
    change_select_related = ("sale",)
    list_filter = [
        "status",
        "kind",
        ("product", admin.RelatedFieldListFilter),
        ("store", StoreFilter),
        ("expires_at", admin.DateFieldListFilter),
    ]
    raw_id_fields = ["member", "product", "store", "sale"]
    fieldsets = [
        (None, {"fields": ["code", "member", "member_360", "product", "kind", "status", "store", "sale"]}),
        (
            _("Uses"),
            {"fields": ["uses_purchased", "uses_bonus", "uses_remaining", "uses_taken", "cap_per_day", "cap_per_week"]},
        ),
        (_("Paid"), {"fields": ["price_paid"]}),
        (
            _("Validity"),
            {"fields": ["validity_months", "purchased_at", "activated_at", "expires_at", "last_used_at"]},
        ),
        (
            _("Freezes and refund"),
            {"fields": ["frozen_at", "freeze_reason", "freezes", "frozen_days", "refunded_at"]},
        ),
    ]


@admin.register(CardEntry)
class CardEntryAdmin(CardSearchMixin, ReadOnlyLedgerAdmin):
    card_code_path = "card__code"
    list_display = [
        "created_at",
        "card_link",
        "member",
        "member_360",
        "kind",
        "uses",
        "service",
        "store",
        "performed_by",
        "recorded_by",
        "reason",
    ]
    list_select_related = ["card", "member", "service", "store", "performed_by", "recorded_by"]
    change_select_related = ("reverses",)
    list_filter = [
        "kind",
        ("store", StoreFilter),
        ("service", admin.RelatedFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    raw_id_fields = ["card", "member", "store", "service", "reverses"]
    # The service note is the member's personal data (sealed at rest): the member's 360 page and the
    # tablet show it to those who serve them, not this list.
    fields = [
        "created_at",
        "card",
        "member",
        "member_360",
        "kind",
        "uses",
        "service",
        "store",
        "performed_by",
        "recorded_by",
        "confirmation",
        "reverses",
        "reason",
        "request_id",
    ]

    @admin.display(description=_("card"), ordering="card_id")
    def card_link(self, entry: CardEntry) -> str:
        return _change_link(MemberCard, entry.card_id, entry.card.code)
