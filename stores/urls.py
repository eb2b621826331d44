"""The tablet shell's pages; config/urls.py mounts them with members' and loyalty's under /tablet/."""

from django.urls import path

from stores import views

urlpatterns = [
    path("login/", views.TabletLoginView.as_view(), name="login"),
    path("logout/", views.tablet_logout, name="logout"),
    path("store/", views.choose_store, name="choose-store"),
    path("offline/", views.offline_page, name="offline"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
]
