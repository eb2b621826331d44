"""The project's URLs plus a tablet address that crashes, to see the server-error page a tablet user gets."""

from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def crash(request):
    raise RuntimeError("a deliberate crash for the error page's layout test")


urlpatterns = [path("tablet/crash/", crash), *urlpatterns]
