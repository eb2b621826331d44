from django.contrib import admin
from django.urls import path

from analytics import views

# Mounted under /admin/analytics/dashboards/ (config.urls), inside the admin's login and look.
urlpatterns = [
    path("", admin.site.admin_view(views.dashboard_index), name="analytics_dashboards"),
    path("<slug:slug>/", admin.site.admin_view(views.dashboard_view), name="analytics_dashboard"),
]
