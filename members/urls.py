"""Tablet pages of the members app: find a member, register one."""

from django.urls import path

from members import views

urlpatterns = [
    path("", views.find_member, name="find"),
    path("register/", views.register_member, name="register"),
]
