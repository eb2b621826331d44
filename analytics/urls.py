from django.contrib import admin
from django.urls import path

from analytics import tablet, views

# Mounted under /admin/analytics/dashboards/ (config.urls), inside the admin's login and look.
urlpatterns = [
    path("", admin.site.admin_view(views.dashboard_index), name="analytics_dashboards"),
    path("<slug:slug>/", admin.site.admin_view(views.dashboard_view), name="analytics_dashboard"),
]

# Mounted in the store tablet's namespace ("tablet:…", config.urls).
tablet_urlpatterns = [
    path("staff-figures/", tablet.staff_figures, name="staff-figures"),
]
