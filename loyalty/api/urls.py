from django.urls import path

from loyalty.api.views import (
    BehaviourEventApi,
    PointsAdjustmentApi,
    SaleCheckoutApi,
    SaleQuoteApi,
    SaleRefundApi,
    SignInApi,
    TopUpApi,
    WalletRefundApi,
)

urlpatterns = [
    path("sales/", SaleCheckoutApi.as_view(), name="sale-checkout"),
    path("sales/quote/", SaleQuoteApi.as_view(), name="sale-quote"),
    path("sales/<int:sale_id>/refunds/", SaleRefundApi.as_view(), name="sale-refund"),
    path("wallet/topups/", TopUpApi.as_view(), name="wallet-topup"),
    path("wallet/refunds/", WalletRefundApi.as_view(), name="wallet-refund"),
    path("points/adjustments/", PointsAdjustmentApi.as_view(), name="points-adjustment"),
    path("points/events/", BehaviourEventApi.as_view(), name="points-event"),
    path("members/<str:reference>/sign-ins/", SignInApi.as_view(), name="member-sign-in"),
]
