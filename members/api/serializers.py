"""Input and output of the members endpoints. Shapes and types only; the rules live in services."""

from rest_framework import serializers

from members.codes import QR_PREFIX, member_code_from_qr
from members.models import Member

# The channels an API caller may register a member through (imports have their own command).
API_CHANNELS = [
    Member.Channel.STORE,
    Member.Channel.ONLINE,
    Member.Channel.MINI_PROGRAM,
    Member.Channel.API,
]


class MemberRegisterInputSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="Any format: 138 1234 5678, +86 138-1234-5678 …")
    name = serializers.CharField()
    gender = serializers.ChoiceField(choices=Member.Gender.choices, required=False, default=Member.Gender.UNKNOWN)
    birthday = serializers.DateField(required=False, allow_null=True, default=None)
    email = serializers.EmailField(required=False, allow_blank=True, default="", max_length=254)
    store = serializers.CharField(help_text="Code of the store registering the member, e.g. SH001.")
    referrer = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", help_text="The referrer's member code or phone."
    )
    marketing_consent = serializers.BooleanField(required=False, default=False)
    channel = serializers.ChoiceField(choices=[(c.value, c.label) for c in API_CHANNELS], default=Member.Channel.STORE)


class MemberLookupInputSerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=64, help_text="A phone in any format, a member code, a scanned QR payload (MBR1.…)."
    )
    store = serializers.CharField(required=False, allow_blank=True, default="", help_text="Store code.")

    def validate_q(self, value: str) -> str:
        # A forged or expired QR code is an answer the cashier needs ("ask the member to refresh it").
        if value.startswith(f"{QR_PREFIX}."):
            member_code_from_qr(value)
        return value
