"""Input and output of the appointment endpoints. Shapes and types only; the rules live in the services."""

from rest_framework import serializers

from loyalty.api.serializers import TillTimeField, request_id_field
from servicecards.models import Appointment


class SlotsInputSerializer(serializers.Serializer):
    service = serializers.CharField(max_length=32, help_text="Service code.")
    day = serializers.DateField(help_text="YYYY-MM-DD, China time.")
    staff = serializers.IntegerField(required=False, default=None, min_value=1, max_value=2_147_483_647)


class StaffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="__str__")


class SlotSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    staff = StaffSerializer()


class AppointmentBookInputSerializer(serializers.Serializer):
    request_id = request_id_field()
    store = serializers.CharField(max_length=32, help_text="Store code.")
    member = serializers.CharField(max_length=64, help_text="Member code.")
    service = serializers.CharField(max_length=32, help_text="Service code.")
    starts_at = TillTimeField(help_text="With its time zone, e.g. 2026-12-15T10:00:00+08:00.")
    staff = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2_147_483_647,
        help_text="Service staff id; leave out for whoever is free.",
    )
    room = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=2_147_483_647)
    card = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=16, help_text="The member's card no."
    )
    channel = serializers.CharField(required=False, default="api", max_length=16)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class AppointmentCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class RoomSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AppointmentSerializer(serializers.ModelSerializer):
    store = serializers.CharField(source="store.code")
    member = serializers.CharField(source="member.code")
    service = serializers.CharField(source="service.code")
    service_name = serializers.CharField(source="service.name")
    staff = StaffSerializer()
    room = RoomSerializer(allow_null=True)
    card = serializers.CharField(source="card.code", allow_null=True, default=None)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "store",
            "member",
            "service",
            "service_name",
            "staff",
            "room",
            "card",
            "starts_at",
            "ends_at",
            "status",
            "channel",
            "note",
            "created_at",
        ]
