from django.urls import path

from campaigns.api.messaging import MemberOptOutApi

urlpatterns = [
    path("members/<str:reference>/opt-out/", MemberOptOutApi.as_view(), name="member-opt-out"),
]
