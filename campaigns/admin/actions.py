"""An admin action that asks for a reason first (void coupons, cancel mall orders): the first click shows
a page with the selected rows and a reason field; its submit runs the action's service on each row."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.forms import ReasonForm

MAX_ROWS = 500


def _message_of(error: ValidationError) -> str:
    return "; ".join(error.messages)


def run_with_reason(
    model_admin, request, queryset, *, action: str, title: str, button: str, run: Callable, describe: Callable
):
    """`run(obj, reason)` for each selected row once a reason is given; `describe(obj)` names a row."""
    rows = list(queryset[: MAX_ROWS + 1])
    if len(rows) > MAX_ROWS:
        model_admin.message_user(
            request, _("Choose at most %(max)d rows at a time.") % {"max": MAX_ROWS}, messages.ERROR
        )
        return None
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done, failed = 0, []
        for obj in rows:
            try:
                run(obj, form.cleaned_data["reason"])
            except (ValidationError, PermissionDenied) as error:
                message = _message_of(error) if isinstance(error, ValidationError) else str(error)
                failed.append(f"{describe(obj)}: {message}")
            else:
                done += 1
        if done:
            model_admin.message_user(
                request, ngettext("%(count)d row done.", "%(count)d rows done.", done) % {"count": done}
            )
        for line in failed:
            model_admin.message_user(request, line, messages.ERROR)
        return None
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "rows": [describe(obj) for obj in rows],
        "selected": [obj.pk for obj in rows],
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "form": form,
        "button": button,
    }
    return TemplateResponse(request, "admin/campaigns/reason_action.html", context)
