from django.urls import path

from servicecards.api.appointment_views import (
    AppointmentBookApi,
    AppointmentCancelApi,
    AppointmentNoShowApi,
    MemberAppointmentsApi,
    StoreSlotsApi,
)
from servicecards.api.views import (
    CardDetailApi,
    CardProductListApi,
    CardRefundApi,
    CardSaleApi,
    CardUseApi,
    CardUseReversalApi,
    MemberCardsApi,
    ServiceHistoryApi,
)

urlpatterns = [
    path("stores/<str:code>/slots/", StoreSlotsApi.as_view(), name="store-slots"),
    path("appointments/", AppointmentBookApi.as_view(), name="appointment-book"),
    path("appointments/<int:appointment_id>/cancel/", AppointmentCancelApi.as_view(), name="appointment-cancel"),
    path("appointments/<int:appointment_id>/no-show/", AppointmentNoShowApi.as_view(), name="appointment-no-show"),
    path("members/<str:reference>/appointments/", MemberAppointmentsApi.as_view(), name="member-appointments"),
    path("card-products/", CardProductListApi.as_view(), name="card-products"),
    path("cards/sales/", CardSaleApi.as_view(), name="card-sale"),
    path("cards/uses/<int:entry_id>/reversal/", CardUseReversalApi.as_view(), name="card-use-reversal"),
    path("cards/<str:card_no>/", CardDetailApi.as_view(), name="card-detail"),
    path("cards/<str:card_no>/uses/", CardUseApi.as_view(), name="card-use"),
    path("cards/<str:card_no>/refunds/", CardRefundApi.as_view(), name="card-refund"),
    path("members/<str:reference>/cards/", MemberCardsApi.as_view(), name="member-cards"),
    path("members/<str:reference>/service-history/", ServiceHistoryApi.as_view(), name="member-service-history"),
]
