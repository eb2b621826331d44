"""HQ back office for points, tiers, stored value, sales and refunds.

Rules (settings, tier policy, earning rules, tiers, recharge packages) are configuration rows edited
here; every change, creation or deletion writes an audit record in the same transaction. Ledgers,
balances, sales and refunds are read-only: they change only through loyalty.services (checkout,
refunds, top-ups, the manual adjustment page below).
"""

from decimal import Decimal
from functools import partial

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten, flatten_fieldsets
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import DateTimeField, QuerySet
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from config.pagination import EstimatedCountPaginator
from loyalty import admin_views
from loyalty.admin_exports import LedgerExportAdminMixin
from loyalty.forms import (
    EarningRuleForm,
    LoyaltySettingsForm,
    RechargePackageForm,
    TierForm,
    TierPolicyForm,
)
from loyalty.models import (
    EarningRule,
    LoyaltySettings,
    MemberStats,
    PointsAccount,
    PointsEntry,
    PointsLot,
    RechargePackage,
    Refund,
    Sale,
    SaleLine,
    SaleTender,
    Tier,
    TierChange,
    TierPolicy,
    TopUp,
    Wallet,
    WalletEntry,
)
from loyalty.services.earning import combined_multiplier
from loyalty.services.review import sale_review_resolve
from members.imports.jobs import can_import
from members.models import ImportJob, Member
from members.selectors import member_search_filter
from stores.permissions import staff_can
from stores.roles import Action
from stores.services import audit_record

RULE_CHANGED = "loyalty.rule_changed"


def _x(value: Decimal) -> str:
    """2.00 → "2", 1.50 → "1.5": multipliers as people write them."""
    return format(Decimal(value).normalize(), "f")


def _list(items) -> str:
    """Items joined as the reader's language lists them ("a, b" in English, "a、b" in Chinese)."""
    return pgettext("list separator", ", ").join(items)


def _audit_value(value) -> object:
    """A form value as JSON for the audit record (Decimals, dates and related rows as text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple | set | QuerySet):
        return [str(v) for v in value]
    return str(value)


# --- rules: configuration rows, audited -------------------------------------------------------


class FullWidthChangelistMixin:
    """Loyalty lists need the whole width of a 1024-pixel screen for their columns (and filters):
    no app navigation beside them. The breadcrumbs lead back to the app and its tools."""

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})


class RuleChangeAuditMixin:
    """Saving or deleting a rule is a rule change: audited in the same transaction as the write."""

    def _reason(self, form, default) -> str:
        reason = (form.cleaned_data.get("change_reason") or "").strip() if form is not None else ""
        return reason or str(default)

    def save_model(self, request, obj, form, change):
        changed = [name for name in form.changed_data if name != "change_reason"]
        data = {
            "changed": changed,
            "created": not change,
            "before": {name: _audit_value(form.initial.get(name)) for name in changed} if change else {},
            "after": {name: _audit_value(form.cleaned_data.get(name)) for name in changed},
        }
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action=RULE_CHANGED,
                target=obj,
                reason=self._reason(
                    form, _("Changed in the back office") if change else _("Created in the back office")
                ),
                data=data,
            )

    def delete_model(self, request, obj):
        with transaction.atomic():
            audit_record(
                actor=request.user,
                action=RULE_CHANGED,
                target=obj,
                reason=str(_("Deleted in the back office")),
                data={"changed": [], "deleted": str(obj)},
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                audit_record(
                    actor=request.user,
                    action=RULE_CHANGED,
                    target=obj,
                    reason=str(_("Deleted in the back office")),
                    data={"changed": [], "deleted": str(obj)},
                )
            super().delete_queryset(request, queryset)


class SingletonAdmin(RuleChangeAuditMixin, admin.ModelAdmin):
    """One row (Model.current() makes it on first use): no add, no delete; the list opens the row."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        obj = self.model.current()
        return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk]))


@admin.register(LoyaltySettings)
class LoyaltySettingsAdmin(SingletonAdmin):
    form = LoyaltySettingsForm
    readonly_fields = ["updated_at"]
    fieldsets = [
        (
            _("Paying with points"),
            {"fields": ["redeem_points_per_yuan", "redeem_step", "redeem_max_share"]},
        ),
        (
            _("Expiry and return window"),
            {
                "fields": [
                    "expiry_policy",
                    "expiry_months",
                    ("annual_clearing_month", "annual_clearing_day"),
                    "pending_days",
                ]
            },
        ),
        (_("Stored value"), {"fields": ["wallet_split", "wallet_earns_points"]}),
        (
            _("Behaviour rewards"),
            {
                "classes": ["collapse"],
                "fields": [
                    "signin_points",
                    "signin_streak_days",
                    "signin_streak_bonus",
                    "profile_completion_points",
                    "review_points",
                    "share_points",
                    "referral_referrer_points",
                    "referral_referred_points",
                    "referral_min_purchase",
                    "referral_monthly_cap",
                ],
            },
        ),
        (
            _("Store managers' manual adjustments"),
            {"fields": ["manager_adjust_max_per_operation", "manager_adjust_max_per_day"]},
        ),
        (_("Refunds"), {"fields": ["refund_window_days"]}),
        (_("Audit"), {"fields": ["change_reason", "updated_at"]}),
    ]


@admin.register(TierPolicy)
class TierPolicyAdmin(SingletonAdmin):
    form = TierPolicyForm
    fieldsets = [
        (None, {"fields": ["metric", "window_days", "retention_days"]}),
        (_("Audit"), {"fields": ["change_reason"]}),
    ]


@admin.register(Tier)
class TierAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = TierForm
    ordering = ["rank"]
    list_display = [
        "rank",
        "code",
        "name",
        "threshold",
        "discount_percent",
        "points_multiplier",
        "birthday_points",
        "free_shipping",
    ]
    list_display_links = ["code", "name"]
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [
        (None, {"fields": ["code", "name", "rank", "threshold"]}),
        (_("Benefits"), {"fields": ["discount_percent", "points_multiplier", "birthday_points", "free_shipping"]}),
        (_("Audit"), {"fields": ["change_reason"]}),
    ]


@admin.register(RechargePackage)
class RechargePackageAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = RechargePackageForm
    list_display = ["name", "pay_amount", "bonus_amount", "is_active"]
    list_filter = ["is_active"]
    show_facets = admin.ShowFacets.NEVER
    fieldsets = [
        (None, {"fields": ["name", "pay_amount", "bonus_amount", "is_active"]}),
        (_("Audit"), {"fields": ["change_reason"]}),
    ]


@admin.register(EarningRule)
class EarningRuleAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, admin.ModelAdmin):
    form = EarningRuleForm
    list_display = ["name", "is_active", "priority", "rate", "scope", "dates", "multipliers"]
    list_display_links = ["name"]
    ordering = ["-priority", "pk"]
    show_facets = admin.ShowFacets.NEVER
    filter_horizontal = ["stores"]
    readonly_fields = ["multiplier_example"]
    fieldsets = [
        (None, {"fields": ["name", "is_active", "priority", "points_per_yuan"]}),
        (_("Where and when"), {"fields": ["stores", ("starts_on", "ends_on")]}),
        (_("What earns no points"), {"fields": ["excluded_categories", "excluded_skus"]}),
        (
            _("Multipliers"),
            {
                "fields": [
                    ("member_day_weekday", "member_day_multiplier"),
                    "birthday_month_multiplier",
                    "use_tier_multiplier",
                    "combine",
                    "multiplier_example",
                ]
            },
        ),
        (_("Caps"), {"fields": [("per_sale_cap", "per_day_cap")]}),
        (_("Audit"), {"fields": ["change_reason"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stores")

    @admin.display(description=_("stores"))
    def scope(self, rule: EarningRule) -> str:
        codes = [store.code for store in rule.stores.all()]
        return ", ".join(codes) if codes else gettext("All stores")

    @admin.display(description=_("points per ¥1"), ordering="points_per_yuan")
    def rate(self, rule: EarningRule) -> str:
        return _x(rule.points_per_yuan)

    @admin.display(description=_("dates"), ordering="starts_on")
    def dates(self, rule: EarningRule) -> str:
        if rule.starts_on is None and rule.ends_on is None:
            return gettext("Always")
        start = rule.starts_on.isoformat() if rule.starts_on else "…"
        end = rule.ends_on.isoformat() if rule.ends_on else "…"
        return f"{start} – {end}"

    @admin.display(description=_("multipliers"))
    def multipliers(self, rule: EarningRule) -> str:
        parts = []
        if rule.member_day_weekday is not None:
            parts.append(f"{rule.get_member_day_weekday_display()} ×{_x(rule.member_day_multiplier)}")
        if rule.birthday_month_multiplier != 1:
            parts.append(gettext("birthday month ×%(x)s") % {"x": _x(rule.birthday_month_multiplier)})
        if rule.use_tier_multiplier:
            parts.append(gettext("tier's"))
        combine = {
            EarningRule.Combine.MULTIPLY: gettext("multiplied"),
            EarningRule.Combine.ADD: gettext("extras added"),
            EarningRule.Combine.BEST: gettext("best of"),
        }[rule.combine]
        if len(parts) > 1:
            return gettext("%(multipliers)s (%(combine)s)") % {"multipliers": _list(parts), "combine": combine}
        return parts[0] if parts else "—"

    @admin.display(description=_("worked example"))
    def multiplier_example(self, rule: EarningRule | None) -> str:
        if rule is None or rule.pk is None:
            return gettext(
                "Save the rule to see a worked example. Multiply: 2× and 1.5× make 3×; "
                "add the extras: 1 + 1 + 0.5 = 2.5×; best of: 2×."
            )
        rate = rule.points_per_yuan
        base: list[tuple[str, Decimal]] = []
        if rule.member_day_weekday is not None:
            base.append((gettext("member day"), rule.member_day_multiplier))
        base.append((gettext("birthday month"), rule.birthday_month_multiplier))
        tiers = [(t.name, t.points_multiplier) for t in Tier.objects.order_by("rank") if t.points_multiplier != 1]
        if not rule.use_tier_multiplier:
            tiers = []
        elif not tiers:
            tiers = [(gettext("a tier"), Decimal("1.2"))]
        cases = [[*base, tier] for tier in tiers] or [base]
        lines = []
        for factors in cases:
            multiplier = combined_multiplier(rule, [f for _name, f in factors])
            points = int(Decimal(100) * rate * multiplier)
            lines.append(
                (
                    _list(f"{name} ×{_x(f)}" for name, f in factors),
                    _x(multiplier),
                    gettext("¥100 paid with money earns %(points)d points") % {"points": points},
                )
            )
        return format_html(
            "<p>{}</p><ul style='margin-left:0'>{}</ul><p class='quiet'>{}</p>",
            gettext("A sale on the member day in the member's birthday month, as saved:")
            if rule.member_day_weekday is not None
            else gettext("A sale in the member's birthday month, as saved:"),
            format_html_join("", "<li>{} → <strong>×{}</strong>: {}</li>", lines),
            gettext(
                "Only multipliers that apply to a sale count: on an ordinary day only the tier's. "
                "Points are rounded down per sale, then the caps apply."
            ),
        )


# --- ledgers and balances: read-only -----------------------------------------------------------


def _all_shown_fields(model_admin) -> list[str]:
    if model_admin.fieldsets:
        return flatten_fieldsets(model_admin.fieldsets)
    if model_admin.fields:
        return list(flatten(model_admin.fields))
    return [f.name for f in model_admin.opts.fields]


def _local_time_column(field):
    """A list column showing a date and time as 2026-11-23 06:20 in local time: the localized long
    format ("2026年11月23日 06:20", "Nov. 23, 2026, 6:20 a.m.") takes a column a ledger cannot spare."""

    @admin.display(description=field.verbose_name, ordering=field.name)
    def column(obj):
        value = getattr(obj, field.name)
        if value is None:
            return None
        return format_html('<span class="nowrap">{}</span>', timezone.localtime(value).strftime("%Y-%m-%d %H:%M"))

    column.__name__ = field.name  # the cells keep their class, field-<name>
    return column


def _related_filter(empty_label):
    """A related-field filter whose "no value" choice says what it means instead of "-"."""

    class Filter(admin.RelatedFieldListFilter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.empty_value_display = str(empty_label)

    return Filter


StoreFilter = _related_filter(_("(no store)"))
PackageFilter = _related_filter(_("Custom amount (no package)"))
TierFilter = _related_filter(_("(no tier)"))


class ReadOnlyLedgerAdmin(FullWidthChangelistMixin, admin.ModelAdmin):
    """Rows written only by the services: view, filter and search, never add, change or delete."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice over the whole table: too slow on a ledger.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    # The search itself is member_search_filter on this path; listing a field makes the admin show the box.
    member_path = "member"
    search_fields = ["pk"]
    search_help_text = _("Member code, full phone number, or the start of a phone number or name.")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return _all_shown_fields(self)

    def get_list_display(self, request):
        """The list's date-and-time fields as compact local-time columns (see _local_time_column)."""
        columns = []
        for name in super().get_list_display(request):
            try:
                field = self.opts.get_field(name) if isinstance(name, str) else None
            except FieldDoesNotExist:
                field = None
            columns.append(_local_time_column(field) if isinstance(field, DateTimeField) else name)
        return columns

    # Related rows the change page shows, loaded with the row instead of one query each.
    change_select_related: tuple[str, ...] = ()

    def get_object(self, request, object_id, from_field=None):
        queryset = self.get_queryset(request)
        related = [*(self.list_select_related or ()), *self.change_select_related]
        if related:
            queryset = queryset.select_related(*related)
        field = self.opts.pk if from_field is None else self.opts.get_field(from_field)
        try:
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (self.model.DoesNotExist, ValidationError, ValueError):
            return None

    def get_search_results(self, request, queryset, search_term):
        condition = member_search_filter(search_term)
        if condition is None:
            return queryset, False
        members = Member.objects.filter(condition).values("pk")
        return queryset.filter(**{f"{self.member_path}__in": members}), False

    def _link(self, model, pk, text=None):
        if pk is None:
            return "—"
        url = reverse(f"admin:loyalty_{model._meta.model_name}_change", args=[pk])
        return format_html('<a href="{}">{}</a>', url, text or f"#{pk}")


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return _all_shown_fields(self)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _can_adjust(request) -> bool:
    return staff_can(request.user, Action.ADJUST_POINTS)


def _can_view_reports(request) -> bool:
    return staff_can(request.user, Action.VIEW_ANALYTICS)


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyLedgerAdmin):
    list_display = ["member", "available", "pending", "debt", "lifetime_earned", "updated_at"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    fields = ["member", "available", "pending", "debt", "lifetime_earned", "updated_at"]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"can_adjust_points": _can_adjust(request), **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_adjust_points": _can_adjust(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)


@admin.register(PointsEntry)
class PointsEntryAdmin(LedgerExportAdminMixin, ReadOnlyLedgerAdmin):
    list_display = ["created_at", "member", "points", "kind", "debt", "store", "staff", "sale_link", "reason_shown"]
    list_select_related = ["member", "store", "staff"]
    change_select_related = ("sale", "refund")
    list_filter = ["kind", ("store", StoreFilter), ("created_at", admin.DateFieldListFilter)]
    raw_id_fields = ["member", "sale", "refund", "staff", "store"]
    fields = [
        "created_at",
        "member",
        "kind",
        "points",
        "debt",
        "store",
        "staff",
        "sale",
        "refund",
        "reason",
        "idempotency_key",
    ]

    @admin.display(description=_("sale"), ordering="sale_id")
    def sale_link(self, entry: PointsEntry):
        return self._link(Sale, entry.sale_id)

    @admin.display(description=_("reason"))
    def reason_shown(self, entry: PointsEntry) -> str:
        return entry.reason_display

    def get_urls(self):
        view = self.admin_site.admin_view(partial(admin_views.points_adjust_view, model_admin=self))
        return [path("adjust/", view, name="loyalty_points_adjust"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"can_adjust_points": _can_adjust(request), **(extra_context or {})})


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyLedgerAdmin):
    list_display = ["id", "member", "points", "remaining", "is_pending", "available_at", "expires_at", "created_at"]
    list_select_related = ["member"]
    change_select_related = ("entry",)
    list_filter = ["is_pending", ("expires_at", admin.DateFieldListFilter)]
    raw_id_fields = ["member", "entry"]
    fields = ["member", "entry", "points", "remaining", "is_pending", "available_at", "expires_at", "created_at"]


class SaleLineInline(ReadOnlyInline):
    model = SaleLine
    fields = ["line_no", "category", "sku", "quantity", "unit_price", "amount", "net_amount", "refunded_quantity"]
    verbose_name = _("line")
    verbose_name_plural = _("lines")


class SaleTenderInline(ReadOnlyInline):
    model = SaleTender
    fields = ["kind", "amount"]
    verbose_name = _("tender")
    verbose_name_plural = _("tenders")


class RefundInline(ReadOnlyInline):
    model = Refund
    fk_name = "sale"
    # The rest (money, principal and bonus returned) is on the refund's own page.
    fields = ["created_at", "amount", "reason", "created_by", "approved_by", "points_restored", "points_clawed_back"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by", "approved_by")


@admin.register(Sale)
class SaleAdmin(ReadOnlyLedgerAdmin):
    list_display = [
        "id",
        "created_at",
        "member",
        "total_due",
        "points_redeemed",
        "points_earned",
        "status",
        "review_state",
        "unsettled_amount",
        "store",
        "cashier",
    ]
    list_select_related = ["store", "cashier", "member"]
    list_filter = [
        "status",
        "review_state",
        "source",
        ("store", StoreFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    actions = ["mark_reviewed"]
    raw_id_fields = ["member"]
    inlines = [SaleLineInline, SaleTenderInline, RefundInline]
    fieldsets = [
        (
            None,
            {"fields": ["request_id", "source", "created_at", "client_time", "store", "cashier", "member", "status"]},
        ),
        (
            _("Amounts"),
            {
                "fields": [
                    "subtotal",
                    "tier_discount",
                    ("coupon_code", "coupon_discount"),
                    ("points_redeemed", "points_value"),
                    "total_due",
                    "paid_money",
                    ("paid_principal", "paid_bonus"),
                    "refunded_amount",
                ]
            },
        ),
        (_("Points earned"), {"fields": ["points_earned", "points_eligible_amount"]}),
        (
            _("Review"),
            {
                "fields": [
                    "review_state",
                    "review_reasons",
                    "unsettled_amount",
                    "reviewed_by",
                    "reviewed_at",
                    "review_note",
                ]
            },
        ),
    ]

    def has_review_permission(self, request) -> bool:
        return staff_can(request.user, Action.REVIEW_SALES)

    @admin.action(description=_("Mark reviewed"), permissions=["review"])
    def mark_reviewed(self, request, queryset):
        sales = list(queryset.filter(review_state=Sale.ReviewState.PENDING).select_related("store")[:500])
        note, error = request.POST.get("note", ""), ""
        if "apply" in request.POST:
            try:
                with transaction.atomic():
                    for sale in sales:
                        sale_review_resolve(sale=sale, actor=request.user, note=note)
            except (ValidationError, PermissionDenied) as exc:
                error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            else:
                message = ngettext("%(count)d sale reviewed.", "%(count)d sales reviewed.", len(sales))
                self.message_user(request, message % {"count": len(sales)}, messages.SUCCESS)
                return None
        context = {**self.admin_site.each_context(request), "sales": sales, "note": note, "error": error}
        return TemplateResponse(request, "admin/loyalty/sale_review.html", context)

    def changelist_view(self, request, extra_context=None):
        extra = {"can_import_history": can_import(request.user, ImportJob.Kind.SALES), **(extra_context or {})}
        return super().changelist_view(request, extra)


@admin.register(Refund)
class RefundAdmin(ReadOnlyLedgerAdmin):
    list_display = [
        "created_at",
        "sale_link",
        "store",
        "amount",
        "reason",
        "created_by",
        "approved_by",
        "points_clawed_back",
        "debt_created",
    ]
    list_select_related = ["store", "created_by", "approved_by"]
    change_select_related = ("sale",)
    list_filter = [("store", StoreFilter), ("created_at", admin.DateFieldListFilter)]
    member_path = "sale__member"
    raw_id_fields = ["sale"]
    fieldsets = [
        (None, {"fields": ["request_id", "created_at", "sale", "store", "amount", "reason"]}),
        (_("Who"), {"fields": ["created_by", "approved_by"]}),
        (
            _("What went back"),
            {
                "fields": [
                    "money_refunded",
                    ("principal_restored", "bonus_restored"),
                    "points_restored",
                    "points_clawed_back",
                    "debt_created",
                    "lines",
                ]
            },
        ),
    ]

    @admin.display(description=_("sale"), ordering="sale_id")
    def sale_link(self, refund: Refund):
        return self._link(Sale, refund.sale_id)


@admin.register(Wallet)
class WalletAdmin(ReadOnlyLedgerAdmin):
    list_display = ["member", "principal", "bonus", "balance_shown", "updated_at"]
    list_select_related = ["member"]
    raw_id_fields = ["member"]
    fields = ["member", "principal", "bonus", "balance_shown", "updated_at"]
    readonly_fields = ["balance_shown"]

    @admin.display(description=_("balance"))
    def balance_shown(self, wallet: Wallet) -> Decimal:
        return wallet.balance


@admin.register(WalletEntry)
class WalletEntryAdmin(LedgerExportAdminMixin, ReadOnlyLedgerAdmin):
    list_display = ["created_at", "member", "principal", "bonus", "kind", "store", "staff", "sale_link", "topup_link"]
    list_select_related = ["member", "store", "staff"]
    change_select_related = ("sale", "refund", "topup")
    list_filter = ["kind", ("store", StoreFilter), ("created_at", admin.DateFieldListFilter)]
    raw_id_fields = ["member", "sale", "refund", "topup", "store", "staff"]
    fields = [
        "created_at",
        "member",
        "kind",
        "principal",
        "bonus",
        "store",
        "staff",
        "sale",
        "refund",
        "topup",
        "idempotency_key",
    ]

    @admin.display(description=_("sale"), ordering="sale_id")
    def sale_link(self, entry: WalletEntry):
        return self._link(Sale, entry.sale_id)

    @admin.display(description=_("top-up"), ordering="topup_id")
    def topup_link(self, entry: WalletEntry):
        return self._link(TopUp, entry.topup_id)


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyLedgerAdmin):
    list_display = ["created_at", "member", "amount", "bonus", "package", "tender", "store", "staff"]
    list_select_related = ["member", "store", "staff", "package"]
    list_filter = [
        ("store", StoreFilter),
        ("package", PackageFilter),
        "tender",
        ("created_at", admin.DateFieldListFilter),
    ]
    raw_id_fields = ["member"]
    fields = ["request_id", "created_at", "member", "store", "staff", "package", "amount", "bonus", "tender"]
    readonly_fields = ["created_at"]

    def get_urls(self):
        view = self.admin_site.admin_view(partial(admin_views.recharge_report_view, model_admin=self))
        return [path("report/", view, name="loyalty_recharge_report"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {"can_view_reports": _can_view_reports(request), **(extra_context or {})}
        )


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyLedgerAdmin):
    list_display = ["created_at", "member", "from_tier", "to_tier", "reason", "sale_link"]
    list_select_related = ["member", "from_tier", "to_tier"]
    change_select_related = ("sale",)
    list_filter = ["reason", ("to_tier", TierFilter), ("created_at", admin.DateFieldListFilter)]
    raw_id_fields = ["member"]
    fields = ["created_at", "member", "from_tier", "to_tier", "reason", "sale"]
    readonly_fields = ["created_at"]

    @admin.display(description=_("sale"), ordering="sale_id")
    def sale_link(self, change: TierChange):
        return self._link(Sale, change.sale_id)


@admin.register(MemberStats)
class MemberStatsAdmin(ReadOnlyLedgerAdmin):
    list_display = [
        "member",
        "tier",
        "tier_since",
        "purchase_count",
        "total_spend",
        "total_refunded",
        "last_purchase_at",
    ]
    list_select_related = ["member", "tier"]
    list_filter = [("tier", TierFilter), ("last_purchase_at", admin.DateFieldListFilter)]
    raw_id_fields = ["member"]
    fields = [
        "member",
        "tier",
        "tier_since",
        "first_purchase_at",
        "last_purchase_at",
        "purchase_count",
        "total_spend",
        "total_refunded",
    ]

    def get_urls(self):
        view = self.admin_site.admin_view(partial(admin_views.downgrade_risk_view, model_admin=self))
        return [path("downgrade-risk/", view, name="loyalty_downgrade_risk"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {"can_view_reports": _can_view_reports(request), **(extra_context or {})}
        )
