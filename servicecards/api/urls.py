from django.urls import path

from servicecards.api.appointment_views import (
    AppointmentBookApi,
    AppointmentCancelApi,
    AppointmentNoShowApi,
    MemberAppointmentsApi,
    StoreSlotsApi,
)

urlpatterns = [
    path("stores/<str:code>/slots/", StoreSlotsApi.as_view(), name="store-slots"),
    path("appointments/", AppointmentBookApi.as_view(), name="appointment-book"),
    path("appointments/<int:appointment_id>/cancel/", AppointmentCancelApi.as_view(), name="appointment-cancel"),
    path("appointments/<int:appointment_id>/no-show/", AppointmentNoShowApi.as_view(), name="appointment-no-show"),
    path("members/<str:reference>/appointments/", MemberAppointmentsApi.as_view(), name="member-appointments"),
]
