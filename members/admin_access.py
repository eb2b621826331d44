"""The member access log in the back office (members.MemberAccess): who looked at which member, newest
first, filtered by staff member (the HQ home links each flagged account here), kind, channel, day.

HQ admins only (the model permission, which stores.roles takes away from the marketer's members.view_*):
the log says which members every staff member looked at, and it is the security reviewer's record of
staff, like the audit trail. Read-only: rows are only ever written by members.access.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.pagination import EstimatedCountPaginator
from members.models import MemberAccess
from stores.names import staff_name


def may_read_access_log(user) -> bool:
    # The HQ admin's role has the permission; the marketer's takes it away (stores.roles).
    return user.has_perm("members.view_memberaccess")


class StaffFilter(admin.SimpleListFilter):
    """By staff member, as the HQ home's links ask (?staff=<user id>): the sidebar names only the one
    chosen, not every login of the chain."""

    title = _("staff")
    parameter_name = "staff"

    def lookups(self, request, model_admin):
        value = self.value()
        if not value or not value.isdigit():
            return []
        user = get_user_model().objects.filter(pk=int(value)).first()
        return [(value, staff_name(user))] if user is not None else []

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit() or len(value) > 18:
            return queryset.none()
        return queryset.filter(staff_id=int(value))


@admin.register(MemberAccess)
class MemberAccessAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "staff_shown",
        "store_shown",
        "channel",
        "kind",
        "member_shown",
        "full_phone",
        "searched_by",
        "fingerprint",
    ]
    list_filter = [
        StaffFilter,
        "kind",
        "channel",
        "searched_by",
        "full_phone",
        ("created_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["staff", "store", "member"]
    change_list_template = "admin/members/memberaccess/change_list.html"
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    # Newest first by id, which the primary key's index serves in every month's partition.
    ordering = ["-id"]

    def changelist_view(self, request, extra_context=None):
        # The log needs the width of a 1024-pixel screen more than the app list.
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    def has_module_permission(self, request):
        return may_read_access_log(request.user)

    def has_view_permission(self, request, obj=None):
        return may_read_access_log(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("staff"), ordering="staff_id")
    def staff_shown(self, access: MemberAccess) -> str:
        return staff_name(access.staff)

    @admin.display(description=_("store"), ordering="store_id")
    def store_shown(self, access: MemberAccess) -> str:
        return access.store.code if access.store is not None else "—"

    @admin.display(description=_("member"))
    def member_shown(self, access: MemberAccess) -> str:
        if access.member_id is None:
            return "—"
        if access.member is None:  # no constraint: the id of a member since removed
            return f"#{access.member_id}"
        url = reverse("admin:members_member_360", args=[access.member_id])
        return format_html('<a href="{}">{}</a>', url, str(access.member))

    @admin.display(description=_("search fingerprint"))
    def fingerprint(self, access: MemberAccess) -> str:
        if access.query_hash is None:
            return "—"
        return f"{access.query_hash & 0xFFFFFFFFFFFFFFFF:016x}"
