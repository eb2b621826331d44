"""Appointment endpoints: a store's free slots, booking, cancelling, marking a no-show, a member's
upcoming appointments. The services check permissions at the appointment's own store: another store's
staff are refused (403), as for another store's sale."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from config.api import (
    ERROR_RESPONSES,
    MEMBER_CODE_IN_PATH,
    ApiView,
    ErrorSerializer,
    member_from_path,
    member_from_reference,
    not_found,
    store_from_code,
)
from servicecards.api.appointment_serializers import (
    AppointmentBookInputSerializer,
    AppointmentCancelInputSerializer,
    AppointmentSerializer,
    SlotSerializer,
    SlotsInputSerializer,
)
from servicecards.models import MemberCard, Room, Service, ServiceStaff
from servicecards.selectors import appointment_by_id, free_slots, member_upcoming_appointments
from servicecards.services.appointments import appointment_book, appointment_cancel, appointment_mark_no_show
from stores.permissions import require_staff_can, staff_access, staff_can
from stores.roles import Action

WRITE_RESPONSES = {**ERROR_RESPONSES, 409: ErrorSerializer}


def _service(code: str) -> Service:
    service = Service.objects.filter(code=code).first()
    if service is None:
        raise not_found("service_not_found", _("There is no service with this code."), "service")
    return service


def _staff(staff_id: int | None) -> ServiceStaff | None:
    if staff_id is None:
        return None
    staff = ServiceStaff.objects.filter(pk=staff_id).select_related("user").first()
    if staff is None:
        raise not_found("staff_not_found", _("There is no such member of service staff."), "staff")
    return staff


def _appointment(appointment_id: int):
    appointment = appointment_by_id(appointment_id)
    if appointment is None:
        raise not_found("appointment_not_found", _("There is no appointment %(id)s.") % {"id": appointment_id})
    return appointment


def _status(answer) -> int:
    return status.HTTP_200_OK if getattr(answer, "replayed", False) else status.HTTP_201_CREATED


class StoreSlotsApi(ApiView):
    """The times at which a service can be booked at a store on a day (China time), with who is free,
    every 30 minutes (15 for a service whose length is not whole half-hours)."""

    InputSerializer = SlotsInputSerializer
    OutputSerializer = SlotSerializer

    @extend_schema(
        operation_id="stores_slots",
        summary="Free appointment slots at a store",
        parameters=[OpenApiParameter("code", str, OpenApiParameter.PATH, description="Store code."), InputSerializer],
        responses={200: OutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, code: str):
        store = store_from_code(code)
        require_staff_can(request.user, Action.BOOK_APPOINTMENT, store)
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        service = _service(data["service"])
        length = timedelta(minutes=service.duration_minutes)
        slots = free_slots(store=store, service=service, day=data["day"], staff=_staff(data["staff"]))
        rows = [{"starts_at": start, "ends_at": start + length, "staff": staff} for start, staff in slots]
        return Response(self.OutputSerializer(rows, many=True).data)


class AppointmentBookApi(ApiView):
    """Book a service for a member at a store: with a member of staff, or whoever is free (leave staff
    out), optionally a room and the card it will be taken from. The same request_id again answers the
    first appointment (200); a slot already taken is 400 slot_taken."""

    InputSerializer = AppointmentBookInputSerializer
    OutputSerializer = AppointmentSerializer

    @extend_schema(
        operation_id="appointments_book",
        summary="Book an appointment",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer, **WRITE_RESPONSES},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        store = store_from_code(data["store"])
        member = member_from_reference(data["member"])
        room = None
        if data["room"] is not None:
            room = Room.objects.filter(pk=data["room"]).first()
            if room is None:
                raise not_found("room_not_found", _("There is no such room."), "room")
        card = None
        if data["card"]:
            card = MemberCard.objects.filter(code=data["card"]).select_related("product").first()
            if card is None:
                raise not_found("card_not_found", _("There is no card with this number."), "card")
        appointment = appointment_book(
            request_id=data["request_id"],
            store=store,
            actor=request.user,
            member=member,
            service=_service(data["service"]),
            starts_at=data["starts_at"],
            staff=_staff(data["staff"]),
            room=room,
            card=card,
            channel=data["channel"],
            note=data["note"],
        )
        answer = appointment_by_id(appointment.pk)
        return Response(self.OutputSerializer(answer).data, status=_status(appointment))


class AppointmentCancelApi(ApiView):
    """Cancel a booked appointment, at its store. Later than the card settings' free-cancellation hours
    before the start it counts as a no-show and the booked card pays for it."""

    InputSerializer = AppointmentCancelInputSerializer
    OutputSerializer = AppointmentSerializer

    @extend_schema(
        operation_id="appointments_cancel",
        summary="Cancel an appointment",
        request=InputSerializer,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, appointment_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        appointment = appointment_cancel(
            appointment=_appointment(appointment_id), actor=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(self.OutputSerializer(appointment_by_id(appointment.pk)).data)


class AppointmentNoShowApi(ApiView):
    """The member did not come: the slot is freed and the booked card pays what a no-show costs."""

    OutputSerializer = AppointmentSerializer

    @extend_schema(
        operation_id="appointments_no_show",
        summary="Mark an appointment as a no-show",
        request=None,
        responses={200: OutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, appointment_id: int):
        appointment = appointment_mark_no_show(appointment=_appointment(appointment_id), actor=request.user)
        return Response(self.OutputSerializer(appointment_by_id(appointment.pk)).data)


class MemberAppointmentsApi(ApiView):
    """A member's upcoming appointments, at the stores where the caller may book (all of them for HQ)."""

    OutputSerializer = AppointmentSerializer

    @extend_schema(
        operation_id="members_appointments",
        summary="A member's upcoming appointments",
        parameters=[OpenApiParameter("reference", str, OpenApiParameter.PATH, description=MEMBER_CODE_IN_PATH)],
        responses={200: OutputSerializer(many=True), **ERROR_RESPONSES},
    )
    def get(self, request, reference: str):
        if not staff_can(request.user, Action.BOOK_APPOINTMENT):
            raise PermissionDenied(_("Your role does not allow this."))
        member = member_from_path(reference)
        rows = member_upcoming_appointments(member)
        access = staff_access(request.user)
        if not access.chain_wide:
            rows = rows.filter(store_id__in=access.store_ids)
        return Response(self.OutputSerializer(rows, many=True).data)
