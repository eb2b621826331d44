"""The project's URLs plus addresses that crash, to see the server-error page a tablet user gets and the
one the back office gets."""

from django.urls import path

from config.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def crash(request):
    raise RuntimeError("a deliberate crash for the error page's layout test")


urlpatterns = [path("tablet/crash/", crash), path("back-office-crash/", crash), *urlpatterns]
