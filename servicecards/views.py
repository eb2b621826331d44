"""Tablet pages of the service cards: the member's cards (a section of the member's page), selling a card,
recording a use (with the member's code or signature), today's uses and, for managers, freezing, extending,
transferring, refunding a card and reversing a use.

Each view checks its action at the tablet's store (stores.tablet.tablet_view), validates a form and calls
one service; the services check everything again. The pages are online only, like refunds: the service
worker keeps none of them (a card's uses must be counted where the card's balance is).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from loyalty.models import SaleTender
from loyalty.selectors import member_balances
from loyalty.services import TenderInput
from loyalty.views import tablet_approver
from members.access import record_view
from members.models import Member
from members.selectors import member_by_reference
from servicecards.forms import (
    CONFIRM_BY,
    CardRefundForm,
    CardSellForm,
    CardUseForm,
    ExtendForm,
    NoFieldsForm,
    ReasonForm,
    ReverseUseForm,
    TransferForm,
)
from servicecards.models import CardEntry, CardSettings, MemberCard
from servicecards.selectors import (
    card_by_code,
    card_entries,
    card_products_on_sale,
    service_staff_for_any,
    store_uses_on,
)
from servicecards.services.cards import (
    card_extend,
    card_freeze,
    card_is_usable,
    card_refund,
    card_refund_quote,
    card_sale_quote,
    card_sell,
    card_transfer,
    card_unfreeze,
    card_use,
    card_use_reverse,
)
from servicecards.services.confirmation import use_code_issue
from stores.permissions import staff_can
from stores.roles import Action
from stores.tablet import add_service_errors, refuse, render_tablet, tablet_view

CARD_ENTRIES_SHOWN = 20


def _may(request: HttpRequest, action: Action) -> bool:
    return staff_can(request.user, action, request.tablet_store)


def _member(request: HttpRequest, code: str) -> Member | None:
    member = member_by_reference(code)
    if member is not None:
        record_view(request, [member])
    return member


def _card(request: HttpRequest, card_code: str) -> MemberCard | None:
    card = card_by_code(card_code)
    if card is not None:
        record_view(request, [card.member])
    return card


def _no_card(request: HttpRequest, card_code: str) -> HttpResponse:
    return refuse(request, _("There is no card %(code)s.") % {"code": card_code[:16]}, status=404)


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


# The member's page: their cards -----------------------------------------------------------------------


def member_page_cards(request: HttpRequest, member: Member, record: dict) -> dict:
    """The member's tablet page section: the cards of the summary it already read, no query of its own."""
    return {
        "member": member,
        "cards": record.get("cards") or [],
        "may_use": _may(request, Action.USE_SERVICE_CARD),
        "may_sell": _may(request, Action.SELL) and not member.is_frozen,
    }


# Selling ---------------------------------------------------------------------------------------------


@never_cache
@tablet_view(Action.SELL)
def card_sell_page(request: HttpRequest, code: str) -> HttpResponse:
    """Choose a card and how it is paid; "Next" shows what is due (the sale's quote), "Confirm" sells."""
    member = _member(request, code)
    if member is None:
        return refuse(request, _("There is no member %(code)s.") % {"code": code[:32]}, status=404)
    store = request.tablet_store
    products = card_products_on_sale(store=store)
    form = CardSellForm(request.POST or None, products=products)
    quote = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            quote = card_sale_quote(
                store=store,
                cashier=request.user,
                member=member,
                product=data["product"],
                coupon_code=data["coupon_code"].strip(),
                points_to_redeem=data["points"],
                stored_value=data["stored_value"],
            )
            stored_value = min(data["stored_value"], quote.total_due)
            rest = quote.total_due - stored_value
            tenders = [TenderInput(SaleTender.Kind.STORED_VALUE, stored_value)] if stored_value else []
            if rest or not tenders:
                tenders.append(TenderInput(data["tender"], rest))
            if request.POST.get("confirm"):
                sold = card_sell(
                    request_id=data["request_id"],
                    store=store,
                    cashier=request.user,
                    member=member,
                    product=data["product"],
                    tenders=[t for t in tenders if t.amount],
                    coupon_code=data["coupon_code"].strip(),
                    points_to_redeem=data["points"],
                )
        except ValidationError as error:
            add_service_errors(form, error)
            quote = None
        else:
            if request.POST.get("confirm"):
                if sold.replayed:
                    messages.info(request, _("This card was already sold; here it is."))
                else:
                    messages.success(
                        request,
                        _("Sold %(card)s to %(member)s.") % {"card": sold.card.product.name, "member": member.name},
                    )
                return redirect("tablet:card", card_code=sold.card.code)
            quote = {"quote": quote, "stored_value": stored_value, "rest": rest, "tender": data["tender"]}
    context = {
        "member": member,
        "form": form,
        "products": list(products),
        "quote": quote,
        "tender_label": dict(SaleTender.Kind.choices).get(quote["tender"]) if quote else "",
        "balances": member_balances(member.pk),
    }
    return render_tablet(request, "tablet/cards_sell.html", context)


# A card ----------------------------------------------------------------------------------------------


@tablet_view(Action.USE_SERVICE_CARD)
def card_page(request: HttpRequest, card_code: str) -> HttpResponse:
    card = _card(request, card_code)
    if card is None:
        return _no_card(request, card_code)
    store = request.tablet_store
    may_manage = _may(request, Action.MANAGE_SERVICE_CARDS)
    context = {
        "card": card,
        "member": card.member,
        "entries": list(card_entries(card)[:CARD_ENTRIES_SHOWN]),
        "refusal": card_is_usable(card, store=store),
        "card_expired": card.expires_at is not None and card.expires_at <= timezone.now(),
        "may_manage": may_manage,
        "may_refund": staff_can(request.user, Action.REQUEST_REFUND, store)
        and card.status != MemberCard.Status.REFUNDED,
        "may_receipt": card.sale_id is not None and staff_can(request.user, Action.USE_TABLET, card.store),
    }
    return render_tablet(request, "tablet/cards_card.html", context)


def _confirm_by() -> list[str]:
    return CONFIRM_BY.get(CardSettings.current().use_confirmation, [])


@never_cache
@tablet_view(Action.USE_SERVICE_CARD)
def card_use_page(request: HttpRequest, card_code: str) -> HttpResponse:
    card = _card(request, card_code)
    if card is None:
        return _no_card(request, card_code)
    store = request.tablet_store
    services = card.product.services.filter(is_active=True).order_by("name")
    staff = service_staff_for_any(store=store, services=services)
    confirm_by = _confirm_by()
    initial = {}
    if staff.filter(pk=request.user.pk).exists():
        initial["performed_by"] = request.user.pk
    elif len(staff) == 1:
        initial["performed_by"] = staff[0].pk
    if len(services) == 1:
        initial["service"] = services[0].pk
    form = CardUseForm(request.POST or None, initial=initial, services=services, staff=staff, confirm_by=confirm_by)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        how = data["confirmation"] if confirm_by else ""
        try:
            entry = card_use(
                request_id=data["request_id"],
                card=card,
                store=store,
                actor=request.user,
                service=data["service"],
                uses=data["uses"],
                performed_by=data["performed_by"],
                note=data["note"],
                confirmation=how,
                confirmation_code=data["confirmation_code"] if how == "code" else "",
                signature=data["signature"] if how == "signature" else "",
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDenied as denied:
            form.add_error(None, str(denied))
        else:
            return redirect("tablet:card-use-done", entry_id=entry.pk)
    context = {
        "card": card,
        "member": card.member,
        "form": form,
        "refusal": card_is_usable(card, store=store),
        "confirm_by": confirm_by,
        "hours": card.kind == "hours",
    }
    return render_tablet(request, "tablet/cards_use.html", context)


@require_POST
@tablet_view(Action.USE_SERVICE_CARD)
def card_use_code(request: HttpRequest, card_code: str) -> HttpResponse:
    """htmx: send the member a code to confirm the use; answers the line the page shows under the button."""
    card = card_by_code(card_code)
    if card is None:
        return _no_card(request, card_code)
    try:
        use_code_issue(card=card, store=request.tablet_store, actor=request.user)
    except ValidationError as error:
        context = {"ok": False, "message": _errors(error)}
    else:
        context = {"ok": True, "message": _("A code was sent to the member's phone. It is valid for 5 minutes.")}
    return render_tablet(request, "tablet/partials/cards_code_sent.html", context)


def _entry_here(request: HttpRequest, entry_id: int, action: Action) -> CardEntry | None:
    entry = (
        CardEntry.objects.select_related("card__product", "member", "service", "performed_by", "store")
        .filter(pk=entry_id, kind=CardEntry.Kind.USE)
        .first()
    )
    if entry is None or not staff_can(request.user, action, entry.store):
        return None
    return entry


@tablet_view(Action.USE_SERVICE_CARD)
def card_use_done(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = _entry_here(request, entry_id, Action.USE_SERVICE_CARD)
    if entry is None:
        return refuse(request, _("There is no card use %(id)s at your stores.") % {"id": entry_id}, status=404)
    card = MemberCard.objects.select_related("product").get(pk=entry.card_id)
    context = {"entry": entry, "card": card, "member": entry.member}
    return render_tablet(request, "tablet/cards_use_done.html", context)


# Managers --------------------------------------------------------------------------------------------


@never_cache
@tablet_view(Action.MANAGE_SERVICE_CARDS)
def card_uses_today(request: HttpRequest) -> HttpResponse:
    day = timezone.localdate()
    uses = list(store_uses_on(store=request.tablet_store, day=day)[:100])
    return render_tablet(request, "tablet/cards_today.html", {"uses": uses, "day": day, "form": ReverseUseForm()})


@require_POST
@tablet_view(Action.MANAGE_SERVICE_CARDS)
def card_use_reverse_page(request: HttpRequest, entry_id: int) -> HttpResponse:
    entry = _entry_here(request, entry_id, Action.MANAGE_SERVICE_CARDS)
    if entry is None:
        return refuse(request, _("There is no card use %(id)s at your stores.") % {"id": entry_id}, status=404)
    form = ReverseUseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason."))
        return redirect("tablet:card-uses-today")
    try:
        card_use_reverse(
            request_id=form.cleaned_data["request_id"],
            entry=entry,
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
    except ValidationError as error:
        messages.error(request, _errors(error))
    else:
        messages.success(request, _("The use of %(card)s was reversed.") % {"card": entry.card.product.name})
    return redirect("tablet:card-uses-today")


# Each manager action: its form, what the service is called with, and what it says when done.
MANAGER_ACTIONS = {
    "freeze": (
        ReasonForm,
        lambda request, card, data: card_freeze(
            card=card, actor=request.user, store=request.tablet_store, reason=data["reason"]
        ),
    ),
    "unfreeze": (
        NoFieldsForm,
        lambda request, card, data: card_unfreeze(card=card, actor=request.user, store=request.tablet_store),
    ),
    "extend": (
        ExtendForm,
        lambda request, card, data: card_extend(
            card=card, actor=request.user, store=request.tablet_store, until=data["until"], reason=data["reason"]
        ),
    ),
}


def _manage(request: HttpRequest, card_code: str, kind: str) -> HttpResponse:
    card = _card(request, card_code)
    if card is None:
        return _no_card(request, card_code)
    titles = {
        "freeze": _("Freeze the card"),
        "unfreeze": _("Unfreeze the card"),
        "extend": _("Extend the card"),
        "transfer": _("Transfer the card"),
    }
    done = {
        "freeze": _("The card is frozen."),
        "unfreeze": _("The card can be used again."),
        "extend": _("The card's validity is extended."),
        "transfer": _("The card now belongs to %(member)s."),
    }
    form_class = TransferForm if kind == "transfer" else MANAGER_ACTIONS[kind][0]
    form = form_class(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if kind == "transfer":
                # Typed in the form's body, never an address (DESIGN §10): a member code or a phone.
                to_member = member_by_reference(data["to_member"])
                if to_member is None:
                    raise ValidationError({"to_member": ValidationError(_("No member has this member code or phone."))})
                record_view(request, [to_member])
                card = card_transfer(
                    card=card,
                    actor=request.user,
                    store=request.tablet_store,
                    to_member=to_member,
                    reason=data["reason"],
                )
                message = done[kind] % {"member": to_member.name}
            else:
                card = MANAGER_ACTIONS[kind][1](request, card, data)
                message = done[kind]
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDenied as denied:
            form.add_error(None, str(denied))
        else:
            messages.success(request, message)
            return redirect("tablet:card", card_code=card.code)
    context = {"card": card, "member": card.member, "form": form, "kind": kind, "title": titles[kind]}
    return render_tablet(request, "tablet/cards_manage.html", context)


@never_cache
@tablet_view(Action.MANAGE_SERVICE_CARDS)
def card_freeze_page(request: HttpRequest, card_code: str) -> HttpResponse:
    return _manage(request, card_code, "freeze")


@never_cache
@tablet_view(Action.MANAGE_SERVICE_CARDS)
def card_unfreeze_page(request: HttpRequest, card_code: str) -> HttpResponse:
    return _manage(request, card_code, "unfreeze")


@never_cache
@tablet_view(Action.MANAGE_SERVICE_CARDS)
def card_extend_page(request: HttpRequest, card_code: str) -> HttpResponse:
    return _manage(request, card_code, "extend")


@never_cache
@tablet_view(Action.MANAGE_SERVICE_CARDS)
def card_transfer_page(request: HttpRequest, card_code: str) -> HttpResponse:
    return _manage(request, card_code, "transfer")


@never_cache
@tablet_view(Action.REQUEST_REFUND)
def card_refund_page(request: HttpRequest, card_code: str) -> HttpResponse:
    """The refund of a card: the quote (what is refundable, the fee, the amount), a reason, and a manager's
    approval where the refund service asks one (a cashier), typed as on the sales' refund page."""
    card = _card(request, card_code)
    if card is None:
        return _no_card(request, card_code)
    needs_approval = card.sale_id is not None and not staff_can(request.user, Action.APPROVE_REFUND, card.sale.store)
    form = CardRefundForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            approver = None
            if needs_approval and (data["approver_username"] or data["approver_password"]):
                approver = tablet_approver(request, data)
            made = card_refund(
                request_id=data["request_id"],
                card=card,
                actor=request.user,
                store=request.tablet_store,
                reason=data["reason"],
                approver=approver,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        except PermissionDenied as denied:
            form.add_error(None, str(denied))
        else:
            messages.success(request, _("Refunded ¥%(amount)s.") % {"amount": made.amount})
            return redirect("tablet:card", card_code=card.code)
    quote = card_refund_quote(card) if card.status != MemberCard.Status.REFUNDED else None
    context = {"card": card, "member": card.member, "form": form, "quote": quote, "needs_approval": needs_approval}
    return render_tablet(request, "tablet/cards_refund.html", context)
