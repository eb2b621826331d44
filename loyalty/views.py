"""Tablet pages of the loyalty app: the member card, selling, receipts, refunds, top-ups, points
adjustments, today's figures and the sales a manager must review.

Each view checks its action at the tablet's store (stores.tablet.tablet_view), validates a form and
calls one service; the sell page rings up through the REST API (the same call its offline queue
replays), so an online and an offline sale take one path through checkout.
"""

import json
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from loyalty.forms import ReviewResolveForm, TabletAdjustForm, TabletRefundForm, TabletTopUpForm
from loyalty.models import LoyaltySettings, Sale, SaleTender
from loyalty.selectors import (
    member_balances,
    member_day_notes,
    recharge_packages_on_offer,
    sale_for_receipt,
    sales_for_member,
    sales_to_review,
    store_day_figures,
    store_recent_sales,
)
from loyalty.services import (
    RefundLineInput,
    points_adjust,
    sale_refund,
    sale_refund_refusal,
    sale_review_resolve,
    wallet_top_up,
)
from loyalty.services.policy import refund_window_start
from members.access import record_view
from members.codes import is_member_code
from members.models import Member
from members.selectors import member_by_reference
from members.views import device_record, device_record_json, member_records
from stores.logins import ApproverLocked, approver_authenticate
from stores.permissions import staff_can
from stores.roles import Action
from stores.tablet import add_service_errors, refuse, render_tablet, tablet_view

RECENT_PURCHASES = 5

# Apps above loyalty add sections to the member's tablet page (servicecards: the member's cards) through this:
# `load(request, member, record) → context` for `template`, from what the page already read where it can.
MemberPageLoader = Callable[[HttpRequest, Member, dict], dict]
_member_page_sections: dict[str, tuple[int, str, MemberPageLoader]] = {}


def tablet_approver(request, data: dict):
    """The manager who typed their username and password on the till (`approver_username`,
    `approver_password` of a form's cleaned data) to approve; a wrong or locked login is the form's error."""
    try:
        approver = approver_authenticate(
            request, username=data["approver_username"], password=data["approver_password"]
        )
    except ApproverLocked as locked:
        raise ValidationError({"approver_username": ValidationError(locked.message)}) from locked
    if approver is None:
        raise ValidationError({"approver_username": ValidationError(_("The manager's username or password is wrong."))})
    return approver


def register_member_page_section(key: str, *, order: int, template: str, load: MemberPageLoader) -> None:
    """Add (or replace) a section of the member's tablet page; call it from AppConfig.ready()."""
    _member_page_sections[key] = (order, template, load)


def _member_page_extra(request: HttpRequest, member: Member, record: dict) -> list[dict]:
    ordered = sorted(_member_page_sections.items(), key=lambda item: (item[1][0], item[0]))
    return [
        {"key": key, "template": template, "data": load(request, member, record)}
        for key, (_order, template, load) in ordered
    ]


def _member_or_none(request: HttpRequest, code: str) -> Member | None:
    member = member_by_reference(code)
    if member is not None:
        record_view(request, [member])
    return member


def _not_found(request: HttpRequest, message: str) -> HttpResponse:
    return refuse(request, message, status=404)


def _unknown_member(request: HttpRequest, code: str) -> HttpResponse:
    return _not_found(request, _("There is no member %(code)s.") % {"code": code[:32]})


def _may(request: HttpRequest, action: Action) -> bool:
    return staff_can(request.user, action, request.tablet_store)


@tablet_view(Action.LOOKUP_MEMBER)
def member_card(request: HttpRequest, code: str) -> HttpResponse:
    member = _member_or_none(request, code)
    if member is None:
        return _unknown_member(request, code)
    [record] = member_records(request, [member])
    progress = record["tier_progress"]
    value, missing = Decimal(progress["value"]), Decimal(progress["missing"])
    context = {
        "progress": int(value * 100 / (value + missing)) if value + missing else 100,
        "member": member,
        "record": record,
        "device_record_json": device_record_json(device_record(record, member)),
        "purchases": list(sales_for_member(member)[:RECENT_PURCHASES]),
        "notes": member_day_notes(member, store_id=request.tablet_store.pk, day=timezone.localdate()),
        "may_sell": _may(request, Action.SELL),
        "may_top_up": _may(request, Action.TOP_UP),
        "may_adjust": _may(request, Action.ADJUST_POINTS),
        "sections": _member_page_extra(request, member, record),
    }
    return render_tablet(request, "tablet/member_card.html", context)


def _sell_config(request: HttpRequest, member_record: dict | None) -> str:
    policy = LoyaltySettings.current()
    receipt = reverse("tablet:receipt", args=[0])
    config = {
        "store": request.tablet_store.code,
        "user": request.user.pk,
        "member": member_record,
        "policy": {
            "points_per_yuan": policy.redeem_points_per_yuan,
            "step": policy.redeem_step,
            "max_share": str(policy.redeem_max_share),
        },
        "categories": settings.TABLET_SALE_CATEGORIES,
        "tenders": [
            {"kind": kind, "label": str(label)}
            for kind, label in SaleTender.Kind.choices
            if kind != SaleTender.Kind.STORED_VALUE
        ],
        "urls": {
            "quote": reverse("loyalty-api:sale-quote"),
            "checkout": reverse("loyalty-api:sale-checkout"),
            "receipt": receipt[: receipt.rindex("0/")],
            "member": reverse("tablet:member", args=["CODE"]),
            "sell": reverse("tablet:sell"),
            "login": reverse("tablet:login"),
        },
    }
    return json.dumps(config, ensure_ascii=False, default=str).replace("</", "<\\/")


@never_cache
@tablet_view(Action.SELL)
def sell(request: HttpRequest) -> HttpResponse:
    """The sell page; with ?member=CODE for a member. Offline the service worker serves this page
    without a member, and sell.js takes the member from the tablet's memory."""
    code = request.GET.get("member", "").strip()[:64]
    record = None
    if code:
        member = _member_or_none(request, code)
        if member is None:
            return _unknown_member(request, code)
        [record] = member_records(request, [member])
        record = device_record(record, member)
    return render_tablet(request, "tablet/sell.html", {"config": _sell_config(request, record), "record": record})


def _sale_of_this_store(request: HttpRequest, sale_id: int) -> Sale | None:
    sale = sale_for_receipt(sale_id)
    if sale is None or not staff_can(request.user, Action.USE_TABLET, sale.store):
        return None
    return sale


@tablet_view(Action.SELL)
def receipt(request: HttpRequest, sale_id: int) -> HttpResponse:
    sale = _sale_of_this_store(request, sale_id)
    if sale is None:
        return _not_found(request, _("There is no sale %(id)s at your stores.") % {"id": sale_id})
    if request.GET.get("replayed"):
        messages.info(request, _("This sale was already recorded; here it is."))
    context = {
        "sale": sale,
        "balances": member_balances(sale.member_id) if sale.member_id else None,
        "may_refund": sale.refunded_amount < sale.paid_total
        and not sale_refund_refusal(sale=sale, actor=request.user, store=request.tablet_store),
    }
    return render_tablet(request, "tablet/receipt.html", context)


@tablet_view(Action.REQUEST_REFUND)
def recent_sales(request: HttpRequest) -> HttpResponse:
    search = (request.POST.get("q") if request.method == "POST" else request.GET.get("q", "")) or ""
    search = search.strip()[:64]
    policy = LoyaltySettings.current()
    # The sales store staff may still refund: the refund service's own window.
    sales = store_recent_sales(store_id=request.tablet_store.pk, since=refund_window_start(policy), search=search)
    page = Paginator(sales, 25).get_page(request.GET.get("page"))
    return render_tablet(
        request,
        "tablet/sales.html",
        {
            "page": page,
            "search": search,
            # A sale number (short) or a member code may go into the pages' links; anything else is not
            # searched for anyway, and might be a phone.
            "search_in_links": is_member_code(search) or (search.isdigit() and len(search) < 11),
            "days": policy.refund_window_days,
        },
    )


def _refund_lines(request: HttpRequest, sale: Sale) -> list[RefundLineInput]:
    lines = []
    for line in sale.lines.all():
        raw = request.POST.get(f"line_{line.line_no}", "").strip()
        if not raw:
            continue
        try:
            quantity = Decimal(raw)
        except ArithmeticError:
            raise ValidationError(
                {"lines": ValidationError(_("Enter quantities as numbers."), code="invalid")}
            ) from None
        if quantity:
            lines.append(RefundLineInput(line_no=line.line_no, quantity=quantity))
    return lines


@never_cache
@tablet_view(Action.REQUEST_REFUND)
def refund(request: HttpRequest, sale_id: int) -> HttpResponse:
    sale = _sale_of_this_store(request, sale_id)
    if sale is None:
        return _not_found(request, _("There is no sale %(id)s at your stores.") % {"id": sale_id})
    refusal = sale_refund_refusal(sale=sale, actor=request.user, store=request.tablet_store)
    if refusal:
        return refuse(request, refusal)
    if sale.member is not None:
        record_view(request, [sale.member])  # the page names the member: who looked is logged like the card
    needs_approval = not staff_can(request.user, Action.APPROVE_REFUND, sale.store)
    form = TabletRefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            approver = None
            # Nothing typed is no attempt: the service says an approval is needed, and no failure is counted.
            if needs_approval and (data["approver_username"] or data["approver_password"]):
                approver = tablet_approver(request, data)
            amount, lines = None, None
            if data["how"] == form.AMOUNT:
                amount = data["amount"]
                if amount is None:
                    raise ValidationError({"amount": ValidationError(_("Enter the amount to refund."))})
            elif data["how"] == form.LINES:
                lines = _refund_lines(request, sale)
                if not lines:
                    raise ValidationError({"how": ValidationError(_("Enter a quantity on the lines to refund."))})
            else:
                lines = [
                    RefundLineInput(line_no=line.line_no, quantity=line.quantity - line.refunded_quantity)
                    for line in sale.lines.all()
                    if line.quantity > line.refunded_quantity
                ]
                if not lines:
                    raise ValidationError({"how": ValidationError(_("Everything on this sale is refunded already."))})
            made = sale_refund(
                request_id=data["request_id"],
                sale=sale,
                actor=request.user,
                reason=data["reason"],
                amount=amount,
                lines=lines,
                approver=approver,
                store=request.tablet_store,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Refunded ¥%(amount)s.") % {"amount": made.amount})
            return redirect("tablet:receipt", sale_id=sale.pk)
    context = {"sale": sale, "form": form, "needs_approval": needs_approval, "lines": list(sale.lines.all())}
    return render_tablet(request, "tablet/refund.html", context)


@never_cache
@tablet_view(Action.TOP_UP)
def top_up(request: HttpRequest, code: str) -> HttpResponse:
    member = _member_or_none(request, code)
    if member is None:
        return _unknown_member(request, code)
    form = TabletTopUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            topup = wallet_top_up(
                request_id=data["request_id"],
                member=member,
                store=request.tablet_store,
                staff=request.user,
                tender=data["tender"],
                package=data["package"],
                amount=data["amount"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                _("Topped up ¥%(principal)s (bonus ¥%(bonus)s).") % {"principal": topup.amount, "bonus": topup.bonus},
            )
            return redirect("tablet:member", code=member.code)
    context = {
        "member": member,
        "form": form,
        "packages": list(recharge_packages_on_offer()),
        "balances": member_balances(member.pk),
    }
    return render_tablet(request, "tablet/top_up.html", context)


@never_cache
@tablet_view(Action.ADJUST_POINTS)
def adjust_points(request: HttpRequest, code: str) -> HttpResponse:
    member = _member_or_none(request, code)
    if member is None:
        return _unknown_member(request, code)
    form = TabletAdjustForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            points_adjust(
                request_id=data["request_id"],
                member=member,
                points=data["points"],
                reason=data["reason"],
                actor=request.user,
                store=request.tablet_store,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Points adjusted by %(points)+d.") % {"points": data["points"]})
            return redirect("tablet:member", code=member.code)
    context = {"member": member, "form": form, "balances": member_balances(member.pk)}
    return render_tablet(request, "tablet/adjust.html", context)


@tablet_view(Action.VIEW_STORE_FIGURES)
def today(request: HttpRequest) -> HttpResponse:
    day = timezone.localdate()
    figures = store_day_figures(store=request.tablet_store, day=day)
    return render_tablet(request, "tablet/today.html", {"figures": figures, "day": day})


@never_cache
@tablet_view(Action.REVIEW_SALES)
def reviews(request: HttpRequest) -> HttpResponse:
    store = request.tablet_store
    form = ReviewResolveForm(request.POST or None)
    if request.method == "POST":
        sale = _sale_of_this_store(request, _int(request.POST.get("sale")))
        if sale is None:
            messages.error(request, _("That sale is not at your stores."))
        elif form.is_valid():
            try:
                sale_review_resolve(sale=sale, actor=request.user, note=form.cleaned_data["note"])
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, _("Sale %(id)s is reviewed.") % {"id": sale.pk})
                return redirect("tablet:reviews")
        else:
            messages.error(request, _("Say what was done about the sale."))
    pending = list(sales_to_review(store_ids=[store.pk])[:50])
    return render_tablet(request, "tablet/reviews.html", {"pending": pending})


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
