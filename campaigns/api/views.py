"""Coupon and points-mall endpoints. Each view validates, resolves, calls one service (or selector) and
serializes; permissions and every rule are the services'. A request id seen before is answered 200
with the first result (201 the first time); under a different payload, 409 request_id_reused."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from campaigns.api.serializers import (
    CouponIssueInputSerializer,
    CouponSerializer,
    MallCancelInputSerializer,
    MallHandOverInputSerializer,
    MallItemsInputSerializer,
    MallOfferSerializer,
    MallOrderInputSerializer,
    MallOrderSerializer,
)
from campaigns.selectors import coupon_template_by_id, mall_item_by_id, mall_offers, mall_order_by_id, mall_shopper
from campaigns.services.coupons import coupon_issue_request
from campaigns.services.mall import mall_order_cancel, mall_order_hand_over, mall_order_place, mall_refusal_message
from config.api import (
    ERROR_RESPONSES,
    ApiView,
    ErrorSerializer,
    member_from_reference,
    not_found,
    optional_store,
    store_from_code,
)
from loyalty.selectors import member_balances
from stores.permissions import staff_can
from stores.roles import Action

WRITE_RESPONSES = {**ERROR_RESPONSES, 409: ErrorSerializer}
ORDER_ID = OpenApiParameter("order_id", int, OpenApiParameter.PATH, description="The mall order's id.")


def _status(answer) -> int:
    return status.HTTP_200_OK if getattr(answer, "replayed", False) else status.HTTP_201_CREATED


def _shown(order):
    """The order again with what its answer shows (member, item, store, coupon), keeping whether it
    answers an earlier request."""
    fetched = mall_order_by_id(order.pk)
    fetched.replayed = getattr(order, "replayed", False)
    return fetched


def _order_or_404(order_id: int):
    order = mall_order_by_id(order_id)
    if order is None:
        raise not_found("order_not_found", _("There is no mall order %(id)s.") % {"id": order_id})
    return order


class CouponIssueApi(ApiView):
    """Issue one coupon of a template to a member (HQ, integrations with a role that manages campaigns).
    The same request_id again answers the first coupon (200); the same request_id for another member or
    template is refused (409). Audited."""

    InputSerializer = CouponIssueInputSerializer
    OutputSerializer = CouponSerializer

    @extend_schema(
        operation_id="coupons_issue",
        summary="Issue a coupon to a member",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = coupon_template_by_id(data["template"])
        if template is None:
            raise not_found("template_not_found", _("There is no such coupon template."), "template")
        member = member_from_reference(data["member"])
        coupon = coupon_issue_request(
            request_id=data["request_id"],
            template=template,
            member=member,
            actor=request.user,
            issue_anyway=data["issue_anyway"],
        )
        return Response(self.OutputSerializer(coupon).data, status=_status(coupon))


class MallItemsApi(ApiView):
    """The points mall's items on sale. With a member: whether they may buy each now and, if not, why
    (out of stock, not for their tier, at the per-member limit, not enough points, frozen)."""

    InputSerializer = MallItemsInputSerializer
    OutputSerializer = MallOfferSerializer

    @extend_schema(
        operation_id="mall_items",
        summary="Points-mall items, with what a member may buy",
        parameters=[InputSerializer],
        responses={200: OutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request):
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = optional_store(data["store"])
        if not (staff_can(request.user, Action.LOOKUP_MEMBER, store) or staff_can(request.user, Action.VIEW_MEMBERS)):
            raise PermissionDenied(_("Your role does not allow this."))
        member = member_from_reference(data["member"]) if data["member"] else None
        shopper = mall_shopper(member) if member is not None else None
        offers = mall_offers(shopper)
        messages = {
            offer.item.pk: mall_refusal_message(offer.reason, offer.item, available=shopper.points if shopper else 0)
            for offer in offers
            if offer.reason
        }
        return Response(self.OutputSerializer(offers, many=True, context={"messages": messages}).data)


class MallOrderApi(ApiView):
    """A member buys a mall item with points. A gift is picked up at `store`; a coupon item issues its
    coupon at once. The same request_id again answers the first order (200)."""

    InputSerializer = MallOrderInputSerializer
    OutputSerializer = MallOrderSerializer

    @extend_schema(
        operation_id="mall_order_place",
        summary="Buy a points-mall item",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_reference(data["member"])
        store = optional_store(data["store"])
        item = mall_item_by_id(data["item"])
        if item is None:
            raise not_found("item_not_found", _("There is no such mall item."), "item")
        order = mall_order_place(
            request_id=data["request_id"], member=member, item=item, store=store, actor=request.user
        )
        order = _shown(order)
        context = {"balances": member_balances(order.member_id)}
        return Response(self.OutputSerializer(order, context=context).data, status=_status(order))


class MallOrderHandOverApi(ApiView):
    """The pick-up store hands the gift over. Handing it over again answers the order as it is."""

    InputSerializer = MallHandOverInputSerializer
    OutputSerializer = MallOrderSerializer

    @extend_schema(
        operation_id="mall_order_hand_over",
        summary="Hand a points-mall gift over at its pick-up store",
        parameters=[ORDER_ID],
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, order_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = store_from_code(serializer.validated_data["store"])
        order = mall_order_hand_over(order=_order_or_404(order_id), staff=request.user, store=store)
        order = _shown(order)
        context = {"balances": member_balances(order.member_id)}
        return Response(self.OutputSerializer(order, context=context).data)


class MallOrderCancelApi(ApiView):
    """Cancel an order before its gift is handed over (or while its coupon is unused): the points go back
    to the lots they came from, the stock goes back. HQ, or the manager of the pick-up store; audited."""

    InputSerializer = MallCancelInputSerializer
    OutputSerializer = MallOrderSerializer

    @extend_schema(
        operation_id="mall_order_cancel",
        summary="Cancel a points-mall order",
        parameters=[ORDER_ID],
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, order_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = mall_order_cancel(
            order=_order_or_404(order_id), actor=request.user, reason=serializer.validated_data["reason"]
        )
        order = _shown(order)
        context = {"balances": member_balances(order.member_id)}
        return Response(self.OutputSerializer(order, context=context).data)
