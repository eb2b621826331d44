"""The points mall in the back office: HQ keeps the items (price, stock, tiers, limits; audited like the
loyalty rules, stock changed only by what is added) and follows the orders, handing gifts over or
cancelling orders from the list. Store staff hand gifts over through the API at their till."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.forms import MallItemForm
from campaigns.models import MallItem, MallOrder
from campaigns.services.mall import mall_item_restock, mall_order_cancel, mall_order_hand_over
from config.pagination import EstimatedCountPaginator
from loyalty.admin import FullWidthChangelistMixin, RuleChangeAuditMixin
from members.models import Member
from members.selectors import member_search_filter
from stores.permissions import staff_can
from stores.roles import Action

from .actions import run_with_reason
from .coupons import KeepCountersMixin


@admin.register(MallItem)
class MallItemAdmin(FullWidthChangelistMixin, RuleChangeAuditMixin, KeepCountersMixin, admin.ModelAdmin):
    form = MallItemForm
    counters = ("stock",)
    list_display = ["name", "kind", "points_price", "stock_shown", "tiers_shown", "per_member_limit", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    show_facets = admin.ShowFacets.NEVER
    filter_horizontal = ["tiers"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "points_price", "coupon_template", "is_active"]}),
        (gettext_lazy("Stock"), {"fields": ["stock", "stock_change", "cost"]}),
        (gettext_lazy("Who may buy it"), {"fields": ["tiers", "per_member_limit"]}),
        (gettext_lazy("Audit"), {"fields": ["change_reason"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.stock is None:
            return [
                (title, {**options, "fields": [f for f in options["fields"] if f != "stock_change"]})
                for title, options in fieldsets
            ]
        return fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    @admin.display(description=gettext_lazy("stock"), ordering="stock")
    def stock_shown(self, item: MallItem) -> str:
        return _("no limit") if item.stock is None else str(item.stock)

    @admin.display(description=gettext_lazy("tiers"))
    def tiers_shown(self, item: MallItem) -> str:
        names = [tier.name for tier in item.tiers.all()]
        return "、".join(names) if names else _("All tiers")

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            change_by = form.cleaned_data.get("stock_change")
            if not (change and change_by):
                return
            try:
                with transaction.atomic():
                    mall_item_restock(
                        item=obj,
                        change=change_by,
                        actor=request.user,
                        reason=form.cleaned_data.get("change_reason", ""),
                    )
            except ValidationError as error:
                # Orders took stock between the form's check and now: the rest is saved, the stock not.
                self.message_user(
                    request,
                    _("The stock was not changed: %(why)s") % {"why": "; ".join(error.messages)},
                    messages.ERROR,
                )


class OrderStoreFilter(admin.RelatedFieldListFilter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = str(_("(no store: a coupon)"))


@admin.register(MallOrder)
class MallOrderAdmin(FullWidthChangelistMixin, admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    ordering = ["-id"]
    list_display = [
        "id",
        "created_at_shown",
        "member",
        "item",
        "points",
        "status",
        "store",
        "handed_over_at_shown",
        "handed_over_by",
    ]
    list_select_related = ["member", "item", "store", "handed_over_by"]
    list_filter = ["status", ("item", admin.RelatedOnlyFieldListFilter), ("store", OrderStoreFilter)]
    search_fields = ["request_id"]
    search_help_text = gettext_lazy("Member code, full phone number, or the start of a phone number or name.")
    actions = ["hand_over", "cancel_orders"]
    fields = [
        "request_id",
        "created_at",
        "member",
        "item",
        "points",
        "status",
        "store",
        "coupon",
        "handed_over_at",
        "handed_over_by",
    ]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Handing over is the till's action; HQ admins (who may sell anywhere) can record it from here.
        if not staff_can(request.user, Action.SELL):
            actions.pop("hand_over", None)
        if not staff_can(request.user, Action.MANAGE_CAMPAIGNS):
            actions.pop("cancel_orders", None)
        return actions

    def get_search_results(self, request, queryset, search_term):
        condition = member_search_filter(search_term)
        if condition is None:
            return queryset, False
        return queryset.filter(member__in=Member.objects.filter(condition).values("pk")), False

    @admin.display(description=gettext_lazy("ordered"), ordering="created_at")
    def created_at_shown(self, order: MallOrder) -> str:
        return timezone.localtime(order.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=gettext_lazy("handed over"), ordering="handed_over_at")
    def handed_over_at_shown(self, order: MallOrder) -> str:
        return timezone.localtime(order.handed_over_at).strftime("%Y-%m-%d %H:%M") if order.handed_over_at else "—"

    @admin.action(description=gettext_lazy("Hand the selected gifts over"))
    def hand_over(self, request, queryset):
        done = 0
        for order in queryset.select_related("store")[:500]:
            if order.store is None:
                self.message_user(
                    request, _("#%(id)s: a coupon, nothing to hand over.") % {"id": order.pk}, messages.ERROR
                )
                continue
            try:
                mall_order_hand_over(order=order, staff=request.user, store=order.store)
            except (ValidationError, PermissionDenied) as error:
                text = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                self.message_user(request, f"#{order.pk}: {text}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request, ngettext("%(count)d gift handed over.", "%(count)d gifts handed over.", done) % {"count": done}
            )

    @admin.action(description=gettext_lazy("Cancel the selected orders…"))
    def cancel_orders(self, request, queryset):
        return run_with_reason(
            self,
            request,
            queryset.select_related("member", "item"),
            action="cancel_orders",
            title=_("Cancel mall orders: the points go back"),
            button=_("Cancel them"),
            run=lambda order, reason: mall_order_cancel(order=order, actor=request.user, reason=reason),
            describe=lambda order: f"#{order.pk} · {order.item} · {order.member} · {order.points}",
        )
