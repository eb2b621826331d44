from django.urls import path

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
    path("card-products/", CardProductListApi.as_view(), name="card-products"),
    path("cards/sales/", CardSaleApi.as_view(), name="card-sale"),
    path("cards/uses/<int:entry_id>/reversal/", CardUseReversalApi.as_view(), name="card-use-reversal"),
    path("cards/<str:card_no>/", CardDetailApi.as_view(), name="card-detail"),
    path("cards/<str:card_no>/uses/", CardUseApi.as_view(), name="card-use"),
    path("cards/<str:card_no>/refunds/", CardRefundApi.as_view(), name="card-refund"),
    path("members/<str:reference>/cards/", MemberCardsApi.as_view(), name="member-cards"),
    path("members/<str:reference>/service-history/", ServiceHistoryApi.as_view(), name="member-service-history"),
]
