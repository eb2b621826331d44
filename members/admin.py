from functools import partial

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

import members.admin_access  # registers the member access log
import members.admin_export_jobs  # registers the pages of exports written in the background
import members.admin_imports  # noqa: F401  (registers the member import pages)
from config.pagination import EstimatedCountPaginator
from members import services
from members.access import record_lookup, record_view
from members.admin_360 import member_360_view
from members.admin_exports import MemberExportAdminMixin
from members.admin_rights import member_data_view, member_erase_view
from members.forms import MemberAdminForm
from members.models import Member, Tag
from members.phones import sees_full_phones, shown_phone
from members.selectors import member_search_filter
from stores.permissions import staff_can
from stores.roles import Action


class TagFilter(admin.SimpleListFilter):
    """Members with a tag, as an EXISTS: the stock M2M filter adds a DISTINCT over every column."""

    title = _("tags")
    parameter_name = "tag"

    def lookups(self, request, model_admin):
        return [(str(tag.pk), tag.name) for tag in Tag.objects.order_by("name")]

    def queryset(self, request, queryset):
        if not self.value() or not self.value().isdigit():
            return queryset
        tagged = Member.tags.through.objects.filter(member_id=OuterRef("pk"), tag_id=int(self.value()))
        return queryset.filter(Exists(tagged))


# Filters other apps add to the members list (campaigns: by segment); members cannot import them.
_extra_list_filters: list = []


def register_member_list_filter(list_filter) -> None:
    """Call from AppConfig.ready()."""
    if list_filter not in _extra_list_filters:
        _extra_list_filters.append(list_filter)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Member)
class MemberAdmin(MemberExportAdminMixin, admin.ModelAdmin):
    form = MemberAdminForm
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts run one COUNT per filter choice over the whole table: too slow at a million rows.
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_display = [
        "code",
        "name",
        # Next to the name: on a 1024-pixel screen the list's last columns are scrolled out of sight.
        "view_360",
        "phone_masked",
        "home_store",
        "status",
        "marketing_consent",
        "registered_at",
    ]
    list_display_links = ["code", "name"]
    # Not the name: it is encrypted, and its ciphertext's order means nothing.
    sortable_by = ["code", "phone_masked", "phone_full", "home_store", "status", "marketing_consent", "registered_at"]
    list_select_related = ["home_store"]
    list_filter = [
        "status",
        ("home_store", admin.RelatedFieldListFilter),
        TagFilter,
        "registration_channel",
        ("registered_at", admin.DateFieldListFilter),
        "marketing_consent",
    ]
    # The search itself is member_search_filter; listing a field makes the admin show the box.
    search_fields = ["phone"]
    search_help_text = _("Full or partial phone (138…), member code, or the start of a name.")
    raw_id_fields = ["referrer"]
    filter_horizontal = ["tags"]
    actions = ["freeze_members", "unfreeze_members"]

    def action_checkbox(self, obj: Member) -> str:
        # The same markup as Django's, without a CheckboxInput rendered through the form templates for
        # each of the 50 rows: at a million members that rendering was a fifth of the page's time.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            admin.helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

    readonly_fields = [
        "code",
        "qr_payload_shown",
        "status",
        "registration_store",
        "registered_by",
        "registration_channel",
        "registered_at",
        "consent_at",
        "consent_source",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["code", "qr_payload_shown", "phone", "name", "gender", "birthday", "status"]}),
        (_("Contact"), {"fields": ["email", "address"]}),
        (_("Membership"), {"fields": ["home_store", "referrer", "tags", "notes"]}),
        (_("Consent"), {"fields": ["marketing_consent", "consent_at", "consent_source"]}),
        (
            _("Registration"),
            {"fields": ["registration_store", "registered_by", "registration_channel", "registered_at", "updated_at"]},
        ),
    ]

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(partial(view, model_admin=self))

        return [
            path("<path:object_id>/360/", wrap(member_360_view), name="members_member_360"),
            path("<path:object_id>/erase/", wrap(member_erase_view), name="members_member_erase"),
            path("<path:object_id>/data/", wrap(member_data_view), name="members_member_data"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request, obj=None):
        # An erased member's record is kept for the ledgers; there is nothing left to edit.
        if obj is not None and obj.is_erased:
            return False
        return super().has_change_permission(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["may_erase"] = obj is not None and not obj.is_erased and staff_can(request.user, Action.ERASE_MEMBER)
        context["may_export_data"] = obj is not None and staff_can(request.user, Action.EXPORT_MEMBER_DATA)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("360° view"))
    def view_360(self, member: Member) -> str:
        return format_html('<a href="{}">360°</a>', reverse("admin:members_member_360", args=[member.pk]))

    def get_list_filter(self, request):
        return [*super().get_list_filter(request), *_extra_list_filters]

    # Searches and opened members go to the member access log (members.access).
    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None and changelist.query:
            record_lookup(request, changelist.result_list, query=changelist.query)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        member = (getattr(response, "context_data", None) or {}).get("original")
        if member is not None:
            # The HQ admin's form holds the full number in its phone box.
            record_view(request, [member], full_phone=sees_full_phones(request.user))
        return response

    def get_search_results(self, request, queryset, search_term):
        condition = member_search_filter(search_term)
        if condition is None:
            return queryset, False
        return queryset.filter(condition), False

    @admin.display(description=_("phone"))
    def phone_full(self, member: Member) -> str:
        return shown_phone(member.phone, full=True)

    @admin.display(description=_("phone"))
    def phone_masked(self, member: Member) -> str:
        return shown_phone(member.phone, full=False)

    def get_list_display(self, request):
        shown = "phone_full" if sees_full_phones(request.user) else "phone_masked"
        return [shown if f == "phone_masked" else f for f in self.list_display]

    @admin.display(description=_("QR payload"))
    def qr_payload_shown(self, member: Member) -> str:
        if not member.pk:
            return "—"
        return format_html("<code>{}</code>", member.qr_payload())

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return [(None, {"fields": ["phone", "name", "gender", "birthday"]}), *fieldsets[1:4]]
        if not sees_full_phones(request.user):
            first = fieldsets[0]
            fields = ["masked_phone" if f == "phone" else f for f in first[1]["fields"]]
            return [(first[0], {"fields": fields}), *fieldsets[1:]]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not sees_full_phones(request.user):
            fields.append("masked_phone")
        return fields

    def save_model(self, request, obj, form, change):
        data = dict(form.cleaned_data)
        if change:
            services.member_update(
                member=obj,
                actor=request.user,
                tags=data.pop("tags"),
                marketing_consent=data.pop("marketing_consent"),
                consent_source=Member.ConsentSource.PAPER,
                **{k: v for k, v in data.items() if k in services.UPDATABLE_FIELDS},
            )
            return
        member = services.member_register(
            **data, staff=request.user, channel=Member.Channel.STORE, consent_source=Member.ConsentSource.PAPER
        )
        obj.pk, obj.code, obj._state = member.pk, member.code, member._state

    def save_related(self, request, form, formsets, change):
        # Tags were saved by the service together with the member.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @admin.action(description=_("Freeze selected members"), permissions=["change"])
    def freeze_members(self, request, queryset):
        self._set_status(request, queryset, Member.Status.FROZEN)

    @admin.action(description=_("Unfreeze selected members"), permissions=["change"])
    def unfreeze_members(self, request, queryset):
        self._set_status(request, queryset, Member.Status.ACTIVE)

    def _set_status(self, request, queryset, status):
        reason = _("Changed in the back office by %(user)s") % {"user": request.user.get_username()}
        count = 0
        for member in queryset[:1000]:
            if member.status != status and not member.is_erased:
                services.member_set_status(member=member, actor=request.user, status=status, reason=str(reason))
                count += 1
        message = ngettext("%(count)d member changed.", "%(count)d members changed.", count) % {"count": count}
        self.message_user(request, message, messages.SUCCESS)
