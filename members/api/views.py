"""Members endpoints: register, look up, summary. Each view validates, resolves, calls one service
(or selector) and serializes; permissions come from stores.permissions."""

from django.core.exceptions import PermissionDenied, ValidationError
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
    optional_store,
    store_from_code,
)
from members.access import record_lookup, record_view
from members.api.serializers import MemberLookupInputSerializer, MemberRegisterInputSerializer
from members.api.summary import member_summaries, member_summary_serializer_class
from members.codes import QR_PREFIX, is_member_code
from members.models import Member
from members.phones import normalize_phone, sees_full_phones
from members.selectors import member_lookup
from members.services import member_register
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action

LOOKUP_LIMIT = 20

CONSENT_SOURCE_BY_CHANNEL = {
    Member.Channel.STORE: Member.ConsentSource.TABLET,
    Member.Channel.ONLINE: Member.ConsentSource.ONLINE,
    Member.Channel.MINI_PROGRAM: Member.ConsentSource.MINI_PROGRAM,
    Member.Channel.API: Member.ConsentSource.API,
}

MemberSummaryOutputSerializer = member_summary_serializer_class()


def _summary_context(request, store=None) -> dict:
    return {"user": request.user, "store": store}


class MemberRegisterApi(ApiView):
    """Register a member at a store (the caller needs to be allowed to register there). The phone may be
    typed in any format and must be new to the chain; the answer is the new member's summary."""

    InputSerializer = MemberRegisterInputSerializer
    OutputSerializer = MemberSummaryOutputSerializer

    @extend_schema(
        operation_id="members_register",
        summary="Register a member",
        request=InputSerializer,
        responses={201: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = store_from_code(data["store"])
        require_staff_can(request.user, Action.REGISTER_MEMBER, store)
        referrer = member_from_reference(data["referrer"], field="referrer") if data["referrer"] else None
        member = member_register(
            phone=data["phone"],
            name=data["name"],
            gender=data["gender"],
            birthday=data["birthday"],
            email=data["email"],
            store=store,
            staff=request.user,
            channel=data["channel"],
            referrer=referrer,
            marketing_consent=data["marketing_consent"],
            consent_source=CONSENT_SOURCE_BY_CHANNEL[data["channel"]],
        )
        # Whoever registers the member has just typed the phone: they see it in full.
        record_view(request, [member], full_phone=True, store=store)
        [summary] = member_summaries([member], full_phone=lambda m: True, context=_summary_context(request, store))
        return Response(self.OutputSerializer(summary).data, status=status.HTTP_201_CREATED)


class MemberLookupApi(ApiView):
    """Find members by a full phone in any format, a member code, a scanned QR payload (or the start
    of a phone or a name): at most 20 summaries. Store staff see masked phones, except the one they
    typed in full.

    The search travels in the POST body: a phone or a name in a URL would be written to every access
    log on its way. GET with `?q=` stays for member codes and QR payloads only (DESIGN §9); anything
    else asked that way is answered 405 "lookup_by_post", without searching."""

    InputSerializer = MemberLookupInputSerializer
    OutputSerializer = MemberSummaryOutputSerializer

    @extend_schema(
        operation_id="members_lookup",
        summary="Find members by phone, member code, QR payload or the start of a phone or name",
        request=InputSerializer,
        responses={200: OutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def post(self, request):
        return self._lookup(request, request.data)

    @extend_schema(
        operation_id="members_lookup_by_code",
        summary="Find a member by member code or QR payload (phones and names: POST)",
        parameters=[InputSerializer],
        responses={200: OutputSerializer(many=True), 405: ErrorSerializer, **ERROR_RESPONSES},
    )
    def get(self, request):
        text = str(request.query_params.get("q", "")).strip()
        if text and not (is_member_code(text) or text.startswith(f"{QR_PREFIX}.")):
            raise ApiError(
                _('Look members up by phone or name with POST and the search in the body: {"q": "…"}.'),
                code="lookup_by_post",
                status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
                field="q",
            )
        return self._lookup(request, request.query_params)

    def _lookup(self, request, params):
        serializer = self.InputSerializer(data=params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = optional_store(data["store"])
        require_staff_can(request.user, Action.LOOKUP_MEMBER, store)
        members = list(member_lookup(text=data["q"])[:LOOKUP_LIMIT])
        record_lookup(request, members, query=data["q"], store=store)
        sees_full = sees_full_phones(request.user)
        typed_phone = _full_phone_typed(data["q"])
        summaries = member_summaries(
            members,
            full_phone=lambda m: sees_full or m.phone == typed_phone,
            context=_summary_context(request, store),
        )
        return Response(self.OutputSerializer(summaries, many=True).data)


class MemberDetailApi(ApiView):
    """A member's summary by member code (never a phone: 400 "phone_in_path"): tier and progress, points
    (available, pending, expiring soon), stored value, usable coupons. The phone is masked unless the
    caller's role may see it."""

    OutputSerializer = MemberSummaryOutputSerializer

    @extend_schema(
        operation_id="members_summary",
        summary="A member's summary: tier, points, stored value, coupons",
        parameters=[OpenApiParameter("reference", str, OpenApiParameter.PATH, description=MEMBER_CODE_IN_PATH)],
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request, reference: str):
        if not (staff_can(request.user, Action.LOOKUP_MEMBER) or staff_can(request.user, Action.VIEW_MEMBERS)):
            raise PermissionDenied(_("Your role does not allow this."))
        member = member_from_path(reference)
        record_view(request, [member])
        sees_full = sees_full_phones(request.user)
        [summary] = member_summaries([member], full_phone=lambda m: sees_full, context=_summary_context(request))
        return Response(self.OutputSerializer(summary).data)


def _full_phone_typed(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except ValidationError:
        return None
