from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analytics.urls import tablet_urlpatterns as analytics_tablet
from analytics.urls import urlpatterns as analytics_dashboards
from config.health import healthz
from loyalty.urls import urlpatterns as loyalty_tablet
from members.urls import urlpatterns as members_tablet
from stores.urls import urlpatterns as stores_tablet

# The store tablet is one namespace ("tablet:…") whose pages live in the app that owns each of them.
tablet_urls = [*stores_tablet, *members_tablet, *loyalty_tablet, *analytics_tablet]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/analytics/dashboards/", include(analytics_dashboards)),
    path("admin/", admin.site.urls),
    path("tablet/", include((tablet_urls, "tablet"))),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # People read the docs after logging in to the back office (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]).
    path("api/v1/docs/", staff_member_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/v1/", include(("members.api.urls", "members-api"))),
    path("api/v1/", include(("loyalty.api.urls", "loyalty-api"))),
    path("api/v1/", include(("campaigns.api.urls", "campaigns-api"))),
    path("api/v1/", include(("servicecards.api.urls", "servicecards-api"))),
]

# Under /api/ the errors Django answers itself (unknown address, a body it refuses, a crash) are JSON too;
# under /tablet/ their pages lead back to the till.
handler400 = "config.api.bad_request"
handler403 = "config.api.permission_denied"
handler404 = "config.api.page_not_found"
handler500 = "config.api.server_error"
