from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from stores import services
from stores.forms import (
    BackOfficeAuthenticationForm,
    IntegrationTokenForm,
    StaffChangeForm,
    StaffCreationForm,
    StaffPasswordChangeForm,
    UnlockForm,
)
from stores.logins import recent_login_failures
from stores.models import AuditEntry, IntegrationToken, LoginLockout, Region, StaffProfile, Store
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
    change_password_form = StaffPasswordChangeForm
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


class _ReadOnlyPages:
    """Pages to look at; what changes goes through an action or a form calling a service. Who may look is
    Django's model permission, which of the roles only the HQ admin holds (stores.roles)."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(_ReadOnlyPages, admin.ModelAdmin):
    """API tokens of integrations: made here and shown once, then only their first characters; revoked
    here. Each is audited."""

    list_display = ["name", "user", "starts_with", "created", "expiry", "last_used_at", "status"]
    list_select_related = ["user", "created_by"]
    search_fields = ["name", "user__username", "token_key"]
    fields = ["name", "user", "starts_with", "created", "created_by", "expiry", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("stores.change_integrationtoken")

    def changelist_view(self, request, extra_context=None):
        # Its columns need the whole width of a 1024-pixel screen.
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    @admin.display(description=_("token starts with"), ordering="token_key")
    def starts_with(self, token: IntegrationToken) -> str:
        return f"{token.token_key}…"

    @admin.display(description=_("status"))
    def status(self, token: IntegrationToken) -> str:
        if token.revoked_at is not None:
            return gettext("revoked")
        if token.expiry <= timezone.now():
            return gettext("expired")
        return gettext("in use")

    @admin.action(description=_("Revoke the selected tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = sum(
            services.integration_token_revoke(
                actor=request.user, token=token, reason=gettext("Revoked in the back office")
            )
            for token in queryset.select_related("user")
        )
        self.message_user(
            request, ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked) % {"count": revoked}
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = IntegrationTokenForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                token, raw = services.integration_token_create(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                for field, errors in error.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                context = {**self._context(request, gettext("Integration token made")), "token": token, "raw": raw}
                return TemplateResponse(request, "admin/stores/integrationtoken/made.html", context)
        context = {**self._context(request, gettext("Make an integration token")), "form": form}
        return TemplateResponse(request, "admin/stores/integrationtoken/add.html", context)

    def _context(self, request, title: str) -> dict:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.opts}


@admin.register(LoginLockout)
class LoginLockoutAdmin(_ReadOnlyPages, admin.ModelAdmin):
    """Accounts and addresses with failed logins in the cool-off, those locked out first; HQ unlocks them
    here (audited)."""

    def has_add_permission(self, request):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = UnlockForm(request.POST or None)
        if request.method == "POST":
            if not request.user.has_perm("stores.change_loginlockout"):
                raise PermissionDenied
            if form.is_valid():
                data = form.cleaned_data
                services.login_unlock(
                    actor=request.user,
                    username=data["value"] if data["kind"] == "account" else None,
                    address=data["value"] if data["kind"] == "address" else None,
                    reason=data["reason"],
                )
                self.message_user(request, gettext("Unlocked: %(what)s.") % {"what": data["value"]})
            else:
                self.message_user(request, gettext("Choose an account or an address to unlock."), messages.ERROR)
            return redirect(request.path)
        accounts, addresses = recent_login_failures()
        context = {
            **self.admin_site.each_context(request),
            "title": capfirst(self.opts.verbose_name_plural),
            "opts": self.opts,
            "accounts": accounts,
            "addresses": addresses,
            "is_nav_sidebar_enabled": False,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/stores/loginlockout/page.html", context)
