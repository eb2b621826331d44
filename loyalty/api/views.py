"""Loyalty endpoints: sales, refunds, top-ups, points adjustments.

Each view validates the input, resolves stores, members and sales, calls one service and
serializes what it returns. The services check permissions and every business rule. A request id
seen before is answered 200 with the first result (201 the first time) to whoever may see it;
under a different payload, or to someone who may not, the service refuses it (409 request_id_reused;
loyalty.services.idempotency).

`balances` in an answer are the member's balances when the answer is made: right after the
operation on the first answer, the current ones on a replay.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import (
    ERROR_RESPONSES,
    MEMBER_CODE_IN_PATH,
    ApiError,
    ApiView,
    ErrorSerializer,
    member_from_path,
    member_from_reference,
    not_found,
    optional_store,
    store_from_code,
)
from loyalty.api.serializers import (
    BehaviourEventInputSerializer,
    BehaviourEventOutputSerializer,
    PointsAdjustmentInputSerializer,
    PointsAdjustmentOutputSerializer,
    RefundOutputSerializer,
    SaleCheckoutInputSerializer,
    SaleOutputSerializer,
    SaleQuoteInputSerializer,
    SaleQuoteOutputSerializer,
    SaleRefundInputSerializer,
    SignInInputSerializer,
    SignInOutputSerializer,
    TopUpInputSerializer,
    TopUpOutputSerializer,
    WalletRefundInputSerializer,
    WalletRefundOutputSerializer,
)
from loyalty.selectors import (
    member_balances,
    recharge_package,
    sale_by_id,
)
from loyalty.services import (
    LineInput,
    RefundLineInput,
    TenderInput,
    points_adjust,
    points_behaviour_event,
    points_sign_in,
    sale_checkout,
    sale_quote,
    sale_refund,
    wallet_refund_principal,
    wallet_top_up,
)
from stores.logins import ApproverLocked, approver_authenticate

WRITE_RESPONSES = {**ERROR_RESPONSES, 409: ErrorSerializer}


def _status(answer) -> int:
    # A service marks what it answers from an earlier request with the same id (policy.as_replay).
    return status.HTTP_200_OK if getattr(answer, "replayed", False) else status.HTTP_201_CREATED


def _balances_of(member_id: int | None):
    return member_balances(member_id) if member_id is not None else None


def approver_from(request, given: dict | None):
    """The manager who approves a request with their username and password (`given`), or None if none was
    given; a wrong password is 403 and too many of them 429, counted as the tablet's approvals are."""
    if given is None:
        return None
    try:
        approver = approver_authenticate(request, **given)
    except ApproverLocked as locked:
        raise ApiError(
            locked.message,
            code="approver_locked",
            field="approver",
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            retry_after=locked.retry_after,
        ) from locked
    if approver is None:
        raise ApiError(
            _("The approver's username or password is wrong."),
            code="approval_invalid",
            field="approver",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    return approver


class SaleCheckoutApi(ApiView):
    """Ring up a sale: lines → tier discount → coupons → points → tenders, which must add up to what
    is due. Answers the sale with its totals, the points earned and the member's balances. The same
    request_id again answers the first sale (200); a different sale under it is refused (409)."""

    InputSerializer = SaleCheckoutInputSerializer
    OutputSerializer = SaleOutputSerializer
    service_fields = {"coupon": "coupon_code"}

    @extend_schema(
        operation_id="sales_create",
        summary="Ring up a sale",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = store_from_code(data["store"])
        member = member_from_reference(data["member"]) if data["member"] else None
        sale = sale_checkout(
            request_id=data["request_id"],
            store=store,
            cashier=request.user,
            member=member,
            lines=[LineInput(**line) for line in data["lines"]],
            tenders=[TenderInput(**tender) for tender in data["tenders"]],
            coupon_code=data["coupon_code"],
            coupon_codes=data["coupon_codes"],
            points_to_redeem=data["points"],
            client_time=data["client_time"],
            channel=data["channel"],
            offline=data["offline"],
        )
        context = {"balances": _balances_of(sale.member_id)}
        return Response(self.OutputSerializer(sale, context=context).data, status=_status(sale))


class SaleQuoteApi(ApiView):
    """Price a sale without recording it: discounts, the points it may take, what is due and what it
    earns. Writes and locks nothing; refuses what checkout would refuse."""

    InputSerializer = SaleQuoteInputSerializer
    OutputSerializer = SaleQuoteOutputSerializer
    service_fields = {"coupon": "coupon_codes"}

    @extend_schema(
        operation_id="sales_quote",
        summary="Price a sale before paying",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        quote = sale_quote(
            store=store_from_code(data["store"]),
            cashier=request.user,
            member=member_from_reference(data["member"]) if data["member"] else None,
            lines=[LineInput(**line) for line in data["lines"]],
            coupon_codes=data["coupon_codes"],
            points_to_redeem=data["points"],
            stored_value=data["stored_value"],
            channel=data["channel"],
        )
        return Response(self.OutputSerializer(quote).data)


class SaleRefundApi(ApiView):
    """Refund part or all of a sale, by amount or by lines, with a reason, at the sale's store: the caller
    must be allowed to refund there, and a cashier needs the approval of a manager of that store (the
    manager's username and password). Past the refund window (a loyalty setting, 7 days by default) only
    HQ refunds. Money, stored value and redeemed points go back in proportion; earned points are clawed
    back, and what was already spent becomes debt."""

    InputSerializer = SaleRefundInputSerializer
    OutputSerializer = RefundOutputSerializer

    @extend_schema(
        operation_id="sales_refund",
        summary="Refund a sale, by amount or by lines",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request, sale_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sale = sale_by_id(sale_id)
        if sale is None:
            raise not_found("sale_not_found", _("There is no sale %(id)s.") % {"id": sale_id})
        store = optional_store(data["store"])
        approver = approver_from(request, data["approver"])
        refund = sale_refund(
            request_id=data["request_id"],
            sale=sale,
            actor=request.user,
            reason=data["reason"],
            amount=data["amount"],
            lines=[RefundLineInput(**line) for line in data["lines"]] or None,
            approver=approver,
            store=store,
        )
        context = {"balances": _balances_of(sale.member_id)}
        return Response(self.OutputSerializer(refund, context=context).data, status=_status(refund))


class TopUpApi(ApiView):
    """Top up a member's stored value with a recharge package (充500送50) or a plain amount. The same
    request_id again answers the first top-up (200); a different top-up under it is refused (409)."""

    InputSerializer = TopUpInputSerializer
    OutputSerializer = TopUpOutputSerializer

    @extend_schema(
        operation_id="wallet_topup",
        summary="Top up a member's stored value",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_reference(data["member"])
        store = store_from_code(data["store"])
        package = None
        if data["package"] is not None:
            package = recharge_package(data["package"])
            if package is None:
                raise not_found("package_not_found", _("There is no such recharge package."), "package")
        topup = wallet_top_up(
            request_id=data["request_id"],
            member=member,
            store=store,
            staff=request.user,
            tender=data["tender"],
            package=package,
            amount=data["amount"],
        )
        context = {"balances": member_balances(topup.member_id)}
        return Response(self.OutputSerializer(topup, context=context).data, status=_status(topup))


class WalletRefundApi(ApiView):
    """Pay a member back the principal left in their stored value (they close their card); the bonus
    is forfeited. Needs the right to approve refunds (a store manager at their store, or HQ); audited."""

    InputSerializer = WalletRefundInputSerializer
    OutputSerializer = WalletRefundOutputSerializer

    @extend_schema(
        operation_id="wallet_refund",
        summary="Pay back a member's remaining stored-value principal",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_reference(data["member"])
        store = optional_store(data["store"])
        entry = wallet_refund_principal(
            request_id=data["request_id"], member=member, actor=request.user, store=store, reason=data["reason"]
        )
        context = {"balances": member_balances(member.pk)}
        return Response(self.OutputSerializer(entry, context=context).data, status=_status(entry))


class PointsAdjustmentApi(ApiView):
    """Add or take away points by hand, with a reason (audited), at a store: store managers give their
    store and are limited per adjustment and per day; HQ is not, and may leave the store out. The same
    request_id again answers the first adjustment (200); anything else under it is refused (409)."""

    InputSerializer = PointsAdjustmentInputSerializer
    OutputSerializer = PointsAdjustmentOutputSerializer

    @extend_schema(
        operation_id="points_adjust",
        summary="Add or take away points by hand, with a reason",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_reference(data["member"])
        store = optional_store(data["store"])
        entry = points_adjust(
            request_id=data["request_id"],
            member=member,
            points=data["points"],
            reason=data["reason"],
            actor=request.user,
            store=store,
        )
        context = {"balances": member_balances(member.pk)}
        return Response(self.OutputSerializer(entry, context=context).data, status=_status(entry))


class SignInApi(ApiView):
    """The member signs in for today: daily points, and a streak bonus on every Nth day in a row.
    Signing in again the same day answers the first sign-in (200). At a till, give the store; an
    integration (mini-program) leaves it out and needs a back-office role."""

    InputSerializer = SignInInputSerializer
    OutputSerializer = SignInOutputSerializer

    @extend_schema(
        operation_id="members_sign_in",
        summary="Sign a member in for today",
        parameters=[OpenApiParameter("reference", str, OpenApiParameter.PATH, description=MEMBER_CODE_IN_PATH)],
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, reference: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = optional_store(serializer.validated_data["store"])
        member = member_from_path(reference)
        sign_in = points_sign_in(member=member, actor=request.user, store=store)
        context = {"balances": member_balances(member.pk)}
        return Response(self.OutputSerializer(sign_in, context=context).data, status=_status(sign_in))


class BehaviourEventApi(ApiView):
    """An integration reports a member's review or share; it earns the points HQ set for it, once per
    kind and external id (a repeat answers the first reward with 200)."""

    InputSerializer = BehaviourEventInputSerializer
    OutputSerializer = BehaviourEventOutputSerializer

    @extend_schema(
        operation_id="points_event",
        summary="Report a review or share that earns points",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_reference(data["member"])
        entry = points_behaviour_event(
            member=member, kind=data["kind"], external_id=data["external_id"], actor=request.user
        )
        context = {"balances": member_balances(member.pk)}
        return Response(self.OutputSerializer(entry, context=context).data, status=_status(entry))
