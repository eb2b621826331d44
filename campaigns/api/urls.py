from django.urls import path

from campaigns.api.effect import CampaignEffectApi
from campaigns.api.messaging import MemberOptOutApi, OptOutByBodyApi
from campaigns.api.views import (
    CouponIssueApi,
    MallItemsApi,
    MallOrderApi,
    MallOrderCancelApi,
    MallOrderHandOverApi,
)

urlpatterns = [
    path("members/<str:reference>/opt-out/", MemberOptOutApi.as_view(), name="member-opt-out"),
    path("opt-outs/", OptOutByBodyApi.as_view(), name="opt-out"),
    path("coupons/", CouponIssueApi.as_view(), name="coupon-issue"),
    path("mall/items/", MallItemsApi.as_view(), name="mall-items"),
    path("mall/orders/", MallOrderApi.as_view(), name="mall-order"),
    path("mall/orders/<int:order_id>/hand-over/", MallOrderHandOverApi.as_view(), name="mall-order-hand-over"),
    path("mall/orders/<int:order_id>/cancel/", MallOrderCancelApi.as_view(), name="mall-order-cancel"),
    path("campaigns/<int:campaign_id>/effect/", CampaignEffectApi.as_view(), name="campaign-effect"),
]
