from django.urls import path

from members.api.views import MemberDetailApi, MemberLookupApi, MemberRegisterApi

urlpatterns = [
    path("members/", MemberRegisterApi.as_view(), name="member-register"),
    path("members/lookup/", MemberLookupApi.as_view(), name="member-lookup"),
    path("members/<str:reference>/", MemberDetailApi.as_view(), name="member-detail"),
]
