from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from stores import services
from stores.forms import BackOfficeAuthenticationForm, StaffChangeForm, StaffCreationForm
from stores.models import AuditEntry, Region, StaffProfile, Store
from stores.names import person_name
from stores.roles import Role

User = get_user_model()

admin.site.site_header = _("Member loyalty back office")
admin.site.site_title = _("Loyalty back office")
admin.site.index_title = _("HQ back office")
admin.site.login_form = BackOfficeAuthenticationForm


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region", "phone", "is_active"]
    list_filter = ["is_active", "region"]
    list_select_related = ["region"]
    search_fields = ["code", "name"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "store", "target_type", "target_id", "reason"]
    list_filter = ["action", "store"]
    list_select_related = ["actor", "store"]
    search_fields = ["target_id", "action"]
    date_hierarchy = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StaffProfileInline(admin.StackedInline):
    model = StaffProfile
    can_delete = False
    fields = ["employee_no", "phone"]
    verbose_name_plural = _("staff profile")


admin.site.unregister(User)


@admin.register(User)
class StaffAdmin(UserAdmin):
    """Staff accounts: the role and stores are set here and go through stores.services (audited)."""

    form = StaffChangeForm
    add_form = StaffCreationForm
    inlines = [StaffProfileInline]
    list_display = ["username", "name", "role_name", "store_codes", "is_active", "last_login"]
    list_filter = ["is_active", "groups"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name", "email"]}),
        (_("Role and stores"), {"fields": ["role", "stores", "role_reason", "is_active"]}),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "password1", "password2"]}),
        (_("Role and stores"), {"fields": ["first_name", "last_name", "role", "stores"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("groups", "staff_profile__stores")
            .select_related("staff_profile")
        )

    @admin.display(description=pgettext_lazy("person", "name"), ordering="last_name")
    def name(self, user) -> str:
        return person_name(user.first_name, user.last_name)

    @admin.display(description=_("role"))
    def role_name(self, user) -> str:
        names = [Role(g.name).label for g in user.groups.all() if g.name in Role.values]
        if user.is_superuser:
            names.insert(0, str(_("Superuser")))
        return ", ".join(str(n) for n in names) or "—"

    @admin.display(description=_("stores"))
    def store_codes(self, user) -> str:
        profile = getattr(user, "staff_profile", None)
        if profile is None:
            return "—"
        return ", ".join(s.code for s in profile.stores.all()) or "—"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            role = next((g.name for g in obj.groups.all() if g.name in Role.values), "")
            form.base_fields["role"].initial = role
            profile = getattr(obj, "staff_profile", None)
            form.base_fields["stores"].initial = list(profile.stores.all()) if profile else []
        return form

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        user = form.instance
        reason = form.cleaned_data.get("role_reason", "")
        services.staff_set_role(
            actor=request.user, user=user, role=form.cleaned_data.get("role") or None, reason=reason
        )
        services.staff_set_stores(
            actor=request.user, user=user, stores=form.cleaned_data.get("stores") or [], reason=reason
        )
