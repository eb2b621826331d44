"""The outbox's endpoint for integrations: a member opts out of marketing messages.

An SMS gateway relays the member's reply to a marketing SMS ("T", "退订"), a mail system an
unsubscribe click, a WeChat connector a "stop" from the official account. The view validates, resolves
the member by the member code in the path (`members/{code}/opt-out/`) or by member code or phone in the
body (`opt-outs/`: a gateway that knows only the phone sends it there, never in an address), and calls
campaigns.services.messaging.member_opt_out.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from campaigns.models import MessageChannel
from campaigns.services.messaging import OptOutSource, member_opt_out
from config.api import ERROR_RESPONSES, MEMBER_CODE_IN_PATH, ApiView, member_from_path, member_from_reference


class OptOutInputSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=[(s, s) for s in OptOutSource.ALL],
        default=OptOutSource.SMS_REPLY,
        help_text="Where the opt-out came from: sms_reply, email_unsubscribe, wechat, or staff.",
    )
    channel = serializers.ChoiceField(
        choices=MessageChannel.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="The channel the member answered on (recorded; consent is withdrawn for every channel).",
    )
    reply = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        max_length=64,
        help_text="The text the member replied, relayed as it came (T, TD, N, 退订 …); anything else is refused "
        "with not_an_opt_out_reply, so a gateway may relay every reply.",
        error_messages={"max_length": _("A reply of more than 64 characters is not an opt-out.")},
    )


class OptOutByBodyInputSerializer(OptOutInputSerializer):
    member = serializers.CharField(max_length=64, help_text="The member code, or the phone in any format.")


class OptOutOutputSerializer(serializers.Serializer):
    member = serializers.CharField(source="member.code", help_text="The member code.")
    marketing_consent = serializers.BooleanField(source="member.marketing_consent")
    changed = serializers.BooleanField(help_text="False when the member had opted out already: nothing was written.")
    messages_cancelled = serializers.IntegerField(help_text="Marketing messages of the member that will not be sent.")


class MemberOptOutApi(ApiView):
    """The member withdraws marketing consent: no more campaign or automation messages on any channel;
    those queued are not sent. Idempotent: again answers the same with changed = false."""

    InputSerializer = OptOutInputSerializer
    OutputSerializer = OptOutOutputSerializer

    @extend_schema(
        operation_id="members_opt_out",
        summary="A member opts out of marketing messages",
        parameters=[OpenApiParameter("reference", str, OpenApiParameter.PATH, description=MEMBER_CODE_IN_PATH)],
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, reference: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_path(reference)
        return self._opt_out(request, member, data)

    def _opt_out(self, request, member, data):
        result = member_opt_out(
            member=member, source=data["source"], channel=data["channel"], reply=data["reply"], actor=request.user
        )
        return Response(self.OutputSerializer(result).data)


class OptOutByBodyApi(MemberOptOutApi):
    """The same opt-out, with the member (code or phone) in the body: an SMS gateway knows the member by
    phone, and a phone is never put in an address."""

    InputSerializer = OptOutByBodyInputSerializer

    @extend_schema(
        operation_id="opt_outs_create",
        summary="A member opts out of marketing messages (member code or phone in the body)",
        request=OptOutByBodyInputSerializer,
        responses={200: OptOutOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_from_reference(data["member"])
        return self._opt_out(request, member, data)
