"""Tablet pages of the members app: find a member (typed, scanned or offline), register one."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from members.access import record_lookup
from members.api.summary import member_summaries, member_summary_serializer_class
from members.forms import TabletRegisterForm
from members.models import Member
from members.phones import normalize_phone, offline_phone_tag, sees_full_phones, shown_phone
from members.selectors import member_by_reference, member_lookup
from members.services import member_register
from stores.roles import Action
from stores.tablet import add_service_errors, render_tablet, tablet_view

RESULTS_LIMIT = 20


def _typed_phone(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except ValidationError:
        return None


def member_records(request: HttpRequest, members: list[Member], *, typed_phone: str | None = None) -> list[dict]:
    """The member summaries a page shows, each phone as this user may read it."""
    sees_full = sees_full_phones(request.user)
    summaries = member_summaries(
        members,
        full_phone=lambda m: sees_full or m.phone == typed_phone,
        context={"user": request.user, "store": getattr(request, "tablet_store", None)},
    )
    serializer = member_summary_serializer_class()
    records = []
    for summary in summaries:
        data = json.loads(json.dumps(serializer(summary).data, default=str))
        data["frozen"] = summary.member.is_frozen
        records.append(data)
    return records


def device_record(record: dict, member: Member) -> dict:
    """What the tablet keeps of a member it opened (card, sell page), to find and sell offline: the
    summary with the phone masked, whoever reads it, and the phone's offline tag. Never the phone nor
    anything it can be recovered from (members.phones.offline_phone_tag says why the tag cannot)."""
    return {
        **record,
        "phone": shown_phone(member.phone, full=False),
        "phone_masked": True,
        "phone_tag": offline_phone_tag(member.phone),
    }


def device_record_json(record: dict) -> str:
    # "</" cannot end the <script> that carries the JSON.
    return json.dumps(record, ensure_ascii=False).replace("</", "<\\/")


@tablet_view(Action.LOOKUP_MEMBER)
def find_member(request: HttpRequest) -> HttpResponse:
    # The search arrives in a POST body (htmx as you type, or Enter): a phone or a name in the address
    # would be written to every access log and the browser's history. A `?q=` is not read.
    query = request.POST.get("q", "").strip()[:64] if request.method == "POST" else ""
    members: list[Member] = []
    if query:
        members = list(member_lookup(text=query)[:RESULTS_LIMIT])
        record_lookup(request, members, query=query)
        exact = member_by_reference(query) if not query.startswith("MBR1.") else (members[0] if members else None)
        # A scan or a full phone/code submitted with Enter goes straight to the card.
        if request.POST.get("go") and exact is not None and len(members) == 1:
            url = reverse("tablet:member", args=[exact.code])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    typed_phone = _typed_phone(query)
    # Listed, not kept: the tablet keeps only the members a cashier opens (the card, the sell page).
    records = member_records(request, members, typed_phone=typed_phone)
    context = {"query": query, "records": records, "searched": bool(query), "typed_phone": typed_phone}
    if request.htmx:
        return render_tablet(request, "tablet/partials/find_results.html", context)
    return render_tablet(request, "tablet/find.html", context)


@tablet_view(Action.REGISTER_MEMBER)
def register_member(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("prefill"):
        # "Register this number" from a search that found no one: the number comes in the body, never
        # the address, and the form opens filled in, not yet checked.
        form = TabletRegisterForm(initial={"phone": request.POST.get("phone", "")[:32]})
        return render_tablet(request, "tablet/register.html", {"form": form, "existing": None})
    form = TabletRegisterForm(request.POST or None)
    existing = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        referrer = member_by_reference(data["referrer"]) if data["referrer"] else None
        if data["referrer"] and referrer is None:
            form.add_error("referrer", _("No member has this code or phone."))
        else:
            try:
                member = member_register(
                    phone=data["phone"],
                    name=data["name"],
                    gender=data["gender"],
                    birthday=data["birthday"],
                    store=request.tablet_store,
                    staff=request.user,
                    channel=Member.Channel.STORE,
                    referrer=referrer,
                    marketing_consent=data["marketing_consent"],
                    consent_source=Member.ConsentSource.TABLET,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(
                    request, _("%(name)s is a member now: %(code)s.") % {"name": member.name, "code": member.code}
                )
                return redirect("tablet:member", code=member.code)
    existing = getattr(form, "existing_member", None)
    if existing is not None:  # "already a member: 王芳": typing a number found someone
        record_lookup(request, [existing], query=form.data.get("phone", ""))
    return render_tablet(request, "tablet/register.html", {"form": form, "existing": existing})
