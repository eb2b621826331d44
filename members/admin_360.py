"""The member's 360 page (/admin/members/member/<pk>/360/) and the two sections the members app owns:
the profile and the referrals. The other sections come from members.member360's registry."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.access import record_view
from members.consent import consent_history
from members.member360 import RECENT_ROWS, member_360_sections, member_changelist_url, register_section
from members.models import Member
from members.phones import sees_full_phones, shown_phone
from members.selectors import member_for_360, members_referred_by
from stores.permissions import staff_can
from stores.roles import Action


def member_360_view(request, object_id, *, model_admin):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    member = member_for_360(object_id)
    if member is None:
        raise Http404(_("No member with this id."))
    record_view(request, [member])
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("360° view"),
        "subtitle": str(member),
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "original": member,
        "member": member,
        "sections": member_360_sections(member, request),
        "may_erase": not member.is_erased and staff_can(request.user, Action.ERASE_MEMBER),
        "may_export_data": staff_can(request.user, Action.EXPORT_MEMBER_DATA),
        # The page needs the width of a 1024-pixel screen more than the app list.
        "is_nav_sidebar_enabled": False,
    }
    return TemplateResponse(request, "admin/members/member/member_360.html", context)


def reader_phone(request, member: Member) -> tuple[str, bool]:
    """The phone as this reader may see it, and whether it is masked."""
    full = sees_full_phones(request.user)
    return shown_phone(member.phone, full=full), not full


def profile_section(member: Member, request) -> dict:
    phone, masked = reader_phone(request, member)
    return {"phone": phone, "phone_masked": masked, "tags": list(member.tags.all())}


def referrals_section(member: Member, request) -> dict:
    referred, total = members_referred_by(member, limit=RECENT_ROWS)
    referrer_phone = reader_phone(request, member.referrer)[0] if member.referrer_id else ""
    return {
        "referrer": member.referrer,
        "referrer_phone": referrer_phone,
        # Rows as dicts: loyalty's extender adds each one's purchase count.
        "referred": [{"member": m, "phone": reader_phone(request, m)[0]} for m in referred],
        "referred_total": total,
        "see_all_url": member_changelist_url(request, Member, member, path="referrer") if total else None,
    }


def consent_section(member: Member, request) -> dict:
    return {"records": consent_history(member, limit=RECENT_ROWS)}


def register() -> None:
    register_section(
        "profile",
        order=10,
        title=gettext_lazy("Profile"),
        template="admin/members/member360/profile.html",
        loader=profile_section,
    )
    register_section(
        "consent",
        order=65,
        title=gettext_lazy("Consent history"),
        template="admin/members/member360/consent.html",
        loader=consent_section,
    )
    register_section(
        "referrals",
        order=70,
        title=gettext_lazy("Referrals"),
        template="admin/members/member360/referrals.html",
        loader=referrals_section,
        wide=True,
    )
