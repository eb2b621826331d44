"""Service-card endpoints: the card products on sale, selling a card, a member's cards and service history,
a card with its entries, recording and reversing a use, refunding a card.

As loyalty.api.views: each view validates the input, resolves stores, members, cards and services, calls
one service and serializes what it returns. The services check permissions (the card's own store for a
reversal, the sale's store for a refund) and every rule. A request id seen before is answered 200 with the
first result (201 the first time) to whoever may see it; otherwise 409 request_id_reused.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import (
    ERROR_RESPONSES,
    MEMBER_CODE_IN_PATH,
    ApiView,
    member_from_path,
    member_from_reference,
    not_found,
    optional_store,
    store_from_code,
)
from config.errors import field_error
from loyalty.api.views import WRITE_RESPONSES, _status, approver_from
from loyalty.selectors import member_balances
from loyalty.services import TenderInput
from members.access import record_view
from servicecards.api.serializers import (
    CardDetailOutputSerializer,
    CardProductOutputSerializer,
    CardRefundInputSerializer,
    CardRefundOutputSerializer,
    CardSaleInputSerializer,
    CardSaleOutputSerializer,
    CardUseInputSerializer,
    CardUseOutputSerializer,
    CardUseReversalInputSerializer,
    CardUseReversalOutputSerializer,
    MemberCardOutputSerializer,
    ServiceHistoryOutputSerializer,
)
from servicecards.models import CardEntry, CardProduct, MemberCard, Service
from servicecards.selectors import card_by_code, card_entries, card_products_on_sale, member_cards, service_history
from servicecards.services.cards import card_refund, card_sell, card_use, card_use_reverse
from stores.permissions import staff_can
from stores.roles import Action

CARD_NO_IN_PATH = "Card number (K + 11 digits), as printed on the member's card page."
HISTORY_PAGE = 50
HISTORY_PAGE_MAX = 200


def _may_read_members(user) -> None:
    if not (staff_can(user, Action.LOOKUP_MEMBER) or staff_can(user, Action.VIEW_MEMBERS)):
        raise PermissionDenied(_("Your role does not allow this."))


def _card_from_path(card_no: str) -> MemberCard:
    card = card_by_code(card_no)
    if card is None:
        raise not_found("card_not_found", _("There is no card %(code)s.") % {"code": str(card_no)[:16]})
    return card


class CardProductListApi(ApiView):
    """The card products on sale (usable at `store` when given), cheapest first."""

    OutputSerializer = CardProductOutputSerializer

    @extend_schema(
        operation_id="card_products_list",
        summary="Card products on sale",
        parameters=[OpenApiParameter("store", str, description="Only the products usable at this store (code).")],
        responses={200: OutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request):
        if not (staff_can(request.user, Action.SELL) or staff_can(request.user, Action.VIEW_MEMBERS)):
            raise PermissionDenied(_("Your role does not allow this."))
        store = optional_store(request.query_params.get("store", "")[:32])
        return Response(self.OutputSerializer(card_products_on_sale(store=store), many=True).data)


class CardSaleApi(ApiView):
    """Sell a card product to a member: a sale of one line (category 服务卡, the product's code as SKU), paid
    as any sale (tenders, a coupon, points), and the member's card. The same request_id again answers the
    first sale and card (200)."""

    InputSerializer = CardSaleInputSerializer
    OutputSerializer = CardSaleOutputSerializer

    @extend_schema(
        operation_id="cards_sell",
        summary="Sell a service card",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = store_from_code(data["store"])
        member = member_from_reference(data["member"])
        product = CardProduct.objects.filter(code=data["product"]).first()
        if product is None:
            raise not_found("product_not_found", _("There is no card product with this code."), "product")
        sold = card_sell(
            request_id=data["request_id"],
            store=store,
            cashier=request.user,
            member=member,
            product=product,
            tenders=[TenderInput(**tender) for tender in data["tenders"]],
            coupon_code=data["coupon_code"],
            points_to_redeem=data["points"],
        )
        card = card_by_code(sold.card.code)
        answer = {"card": card, "sale": sold.sale}
        context = {"balances": member_balances(member.pk)}
        return Response(
            self.OutputSerializer(answer, context=context).data,
            status=status.HTTP_200_OK if sold.replayed else status.HTTP_201_CREATED,
        )


class MemberCardsApi(ApiView):
    """Every card of a member, newest first: uses left, valid until, status, the services it covers."""

    OutputSerializer = MemberCardOutputSerializer

    @extend_schema(
        operation_id="members_cards",
        summary="A member's service cards",
        parameters=[OpenApiParameter("reference", str, OpenApiParameter.PATH, description=MEMBER_CODE_IN_PATH)],
        responses={200: OutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, reference: str):
        _may_read_members(request.user)
        member = member_from_path(reference)
        record_view(request, [member])
        return Response(self.OutputSerializer(member_cards(member), many=True).data)


class CardDetailApi(ApiView):
    """A card with its ledger entries (purchase, bonus, uses, reversals, refund …), newest first."""

    OutputSerializer = CardDetailOutputSerializer

    @extend_schema(
        operation_id="cards_detail",
        summary="A service card and its entries",
        parameters=[OpenApiParameter("card_no", str, OpenApiParameter.PATH, description=CARD_NO_IN_PATH)],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request, card_no: str):
        _may_read_members(request.user)
        card = _card_from_path(card_no)
        record_view(request, [card.member])
        context = {"entries": list(card_entries(card)[:500])}
        return Response(self.OutputSerializer(card, context=context).data)


class CardUseApi(ApiView):
    """Record a use of the card at a store: the service, the uses (fractional for lesson hours), who
    performed it, the staff's note, and the member's confirmation (a code sent to them, or a signature)
    where the chain asks for one. The same request_id again answers the first use (200)."""

    InputSerializer = CardUseInputSerializer
    OutputSerializer = CardUseOutputSerializer

    @extend_schema(
        operation_id="cards_use",
        summary="Record a use of a service card",
        parameters=[OpenApiParameter("card_no", str, OpenApiParameter.PATH, description=CARD_NO_IN_PATH)],
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request, card_no: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = store_from_code(data["store"])
        card = _card_from_path(card_no)
        service = Service.objects.filter(code=data["service"]).first()
        if service is None:
            raise not_found("service_not_found", _("There is no service with this code."), "service")
        performed_by = None
        if data["performed_by"] is not None:
            performed_by = get_user_model().objects.filter(pk=data["performed_by"]).first()
            if performed_by is None:
                raise field_error("performed_by", _("Choose a member of service staff."), "invalid_staff")
        entry = card_use(
            request_id=data["request_id"],
            card=card,
            store=store,
            actor=request.user,
            service=service,
            uses=data["uses"],
            performed_by=performed_by,
            note=data["note"],
            confirmation=data["confirmation"],
            confirmation_code=data["confirmation_code"],
            signature=data["signature"],
        )
        entry.card.refresh_from_db(fields=["uses_remaining", "uses_taken"])
        return Response(self.OutputSerializer(entry).data, status=_status(entry))


class CardUseReversalApi(ApiView):
    """Reverse a use recorded by mistake: a manager of the use's store, the same day, with a reason."""

    InputSerializer = CardUseReversalInputSerializer
    OutputSerializer = CardUseReversalOutputSerializer

    @extend_schema(
        operation_id="cards_use_reverse",
        summary="Reverse a card use",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request, entry_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        entry = CardEntry.objects.select_related("store", "card").filter(pk=entry_id, kind=CardEntry.Kind.USE).first()
        if entry is None:
            raise not_found("use_not_found", _("There is no card use %(id)s.") % {"id": entry_id})
        reversal = card_use_reverse(
            request_id=data["request_id"], entry=entry, actor=request.user, reason=data["reason"]
        )
        reversal.card.refresh_from_db(fields=["uses_remaining", "uses_taken"])
        return Response(self.OutputSerializer(reversal).data, status=_status(reversal))


class CardRefundApi(ApiView):
    """Refund a card: the paid price pro rata of what is left, less the chain's fee, through the sale refund
    (at the card's sale store, with its approvals and window: a cashier needs a manager's approval). The card
    is closed and its uses left are taken. The same request_id again answers the first refund (200)."""

    InputSerializer = CardRefundInputSerializer
    OutputSerializer = CardRefundOutputSerializer

    @extend_schema(
        operation_id="cards_refund",
        summary="Refund a service card",
        parameters=[OpenApiParameter("card_no", str, OpenApiParameter.PATH, description=CARD_NO_IN_PATH)],
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request, card_no: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = store_from_code(data["store"])
        card = _card_from_path(card_no)
        approver = approver_from(request, data["approver"])
        refund = card_refund(
            request_id=data["request_id"],
            card=card,
            actor=request.user,
            store=store,
            reason=data["reason"],
            approver=approver,
        )
        context = {"balances": member_balances(card.member_id), "card": card}
        return Response(self.OutputSerializer(refund, context=context).data, status=_status(refund))


class ServiceHistoryApi(ApiView):
    """服务记录: the member's card uses (what, when, where, by whom, the staff's note), newest first, a page
    at a time (`offset`, `limit` up to 200)."""

    OutputSerializer = ServiceHistoryOutputSerializer

    @extend_schema(
        operation_id="members_service_history",
        summary="A member's service history",
        parameters=[
            OpenApiParameter("reference", str, OpenApiParameter.PATH, description=MEMBER_CODE_IN_PATH),
            OpenApiParameter("offset", int, description="Records to skip (0 by default)."),
            OpenApiParameter("limit", int, description=f"Records per page ({HISTORY_PAGE} by default, at most 200)."),
        ],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request, reference: str):
        _may_read_members(request.user)
        offset = _int_param(request, "offset", 0, minimum=0, maximum=10**6)
        limit = _int_param(request, "limit", HISTORY_PAGE, minimum=1, maximum=HISTORY_PAGE_MAX)
        member = member_from_path(reference)
        record_view(request, [member])
        records = service_history(member).select_related("reversed_by")
        count = records.count()
        page = list(records[offset : offset + limit])
        answer = {
            "count": count,
            "next_offset": offset + limit if offset + limit < count else None,
            "results": page,
        }
        context = {"reversed": {e.pk for e in page if _was_reversed(e)}}
        return Response(self.OutputSerializer(answer, context=context).data)


def _was_reversed(entry: CardEntry) -> bool:
    try:
        return entry.reversed_by is not None
    except CardEntry.DoesNotExist:
        return False


def _int_param(request, name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_error(name, _("Enter a whole number."), "invalid") from None
    if not minimum <= value <= maximum:
        raise field_error(
            name, _("Enter a number from %(min)s to %(max)s.") % {"min": minimum, "max": maximum}, "out_of_range"
        )
    return value
