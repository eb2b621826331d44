"""The back office's pages for members' rights, on each member (HQ admin only, by Action):
- erase the member (`<pk>/erase/`): what stands in the way, the stored value to settle, a reason, a
  confirmation; then members.erasure.erase_member;
- the member's data file (`<pk>/data/`): a page that says what the file holds, and a POST that answers it
  (members.data_access.member_data_file), audited.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from members.access import record_view
from members.data_access import member_data_file
from members.erasure import erase_member, erasure_blockers, erasure_to_settle
from members.forms import MemberErasureForm
from members.selectors import member_for_360
from stores.permissions import staff_can
from stores.roles import Action


def _member_or_404(object_id):
    member = member_for_360(object_id)
    if member is None:
        raise Http404(_("No member with this id."))
    return member


def _context(request, model_admin, member, title: str) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": str(member),
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "original": member,
        "member": member,
    }


def member_erase_view(request, object_id, *, model_admin):
    if not staff_can(request.user, Action.ERASE_MEMBER):
        raise PermissionDenied
    member = _member_or_404(object_id)
    if member.is_erased:
        messages.info(request, _("This member was erased on %(date)s.") % {"date": member.erased_at.date()})
        return redirect("admin:members_member_360", member.pk)
    form = MemberErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            erase_member(
                member=member,
                by=request.user,
                reason=form.cleaned_data["reason"],
                stored_value=form.cleaned_data["stored_value"],
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("The member's personal data has been erased."))
            return redirect("admin:members_member_360", member.pk)
    record_view(request, [member])
    context = {
        **_context(request, model_admin, member, _("Erase the member")),
        "form": form,
        "blockers": erasure_blockers(member),
        "to_settle": erasure_to_settle(member),
    }
    return TemplateResponse(request, "admin/members/member/erase.html", context)


def member_data_view(request, object_id, *, model_admin):
    if not staff_can(request.user, Action.EXPORT_MEMBER_DATA):
        raise PermissionDenied
    member = _member_or_404(object_id)
    if request.method == "POST":
        name, content = member_data_file(member=member, by=request.user)
        record_view(request, [member], full_phone=True)
        response = HttpResponse(content, content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response
    record_view(request, [member])
    context = _context(request, model_admin, member, _("The member's data"))
    return TemplateResponse(request, "admin/members/member/data.html", context)
