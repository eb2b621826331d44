"""The tablet's shell: log in, choose the store, log out, and what keeps the app working offline."""

import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from stores.permissions import staff_can
from stores.roles import Action
from stores.selectors import stores_for_staff
from stores.sessions import mark_tablet_session
from stores.tablet import refuse, remember_store, store_remembered_on_device

# What the service worker keeps for offline use: the pages a cashier needs without a network (their
# own JavaScript finds members and queues sales in IndexedDB) and the assets they load.
OFFLINE_PAGES = ("tablet:find", "tablet:sell", "tablet:offline")
SHELL_ASSETS = (
    "tablet/tablet.css",
    "tablet/tablet.js",
    "tablet/offline.js",
    "tablet/sell.js",
    "tablet/find.js",
    "tablet/icon.svg",
    "django_htmx/htmx-2.min.js",
)


def _next_url(request: HttpRequest, default: str) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return default


class TabletLoginView(LoginView):
    template_name = "tablet/login.html"
    redirect_authenticated_user = False

    def form_valid(self, form):
        user = form.get_user()
        if not staff_can(user, Action.USE_TABLET):
            form.add_error(None, _("Your role does not use the store tablet."))
            return self.form_invalid(form)
        response = super().form_valid(form)
        mark_tablet_session(self.request)
        store = store_remembered_on_device(self.request, list(stores_for_staff(user)))
        if store is None:
            return redirect(f"{reverse('tablet:choose-store')}?{urlencode({'next': self.get_success_url()})}")
        remember_store(self.request, response, store)
        return response

    def get_default_redirect_url(self):
        return reverse("tablet:find")


@never_cache
def choose_store(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("tablet:login")
    if not staff_can(request.user, Action.USE_TABLET):
        return refuse(request, _("Your role does not use the store tablet."))
    stores = list(stores_for_staff(request.user))
    next_url = _next_url(request, reverse("tablet:find"))
    if request.method == "POST":
        chosen = next((s for s in stores if str(s.pk) == request.POST.get("store")), None)
        if chosen is not None:
            response = redirect(next_url)
            remember_store(request, response, chosen)
            messages.success(request, _("This tablet now works at %(store)s.") % {"store": chosen.name})
            return response
        messages.error(request, _("Choose one of your stores."))
    if not stores:
        return refuse(request, _("You serve no open store. Ask HQ to add you to a store."))
    return render(request, "tablet/choose_store.html", {"stores": stores, "next": next_url})


@require_POST
def tablet_logout(request: HttpRequest) -> HttpResponse:
    # The store stays remembered on the device (its cookie): the next cashier at this till skips the choice.
    logout(request)
    return redirect("tablet:login")


def offline_page(request: HttpRequest) -> HttpResponse:
    """What the service worker shows for a page that needs the network while there is none."""
    return render(request, "tablet/offline.html")


def _shell_version(urls: list[str]) -> str:
    # Hashed static names (production) change with their content, so the list's hash names the cache;
    # in DEBUG names never change, so each server start gets a fresh cache.
    seed = "|".join(urls) + ("" if not settings.DEBUG else _STARTED)
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


_STARTED = str(id(object()))


def service_worker(request: HttpRequest) -> HttpResponse:
    pages = [reverse(name) for name in OFFLINE_PAGES]
    assets = [static(path) for path in SHELL_ASSETS]
    body = render_to_string(
        "tablet/sw.js",
        {
            "version": _shell_version(pages + assets),
            "pages": pages,
            "assets": assets,
            "offline_url": reverse("tablet:offline"),
            "scope": reverse("tablet:find"),
        },
    )
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    # The browser checks for a new worker on every visit; never let a proxy keep an old one.
    response["Cache-Control"] = "no-cache"
    return response


def manifest(request: HttpRequest) -> HttpResponse:
    body = render_to_string("tablet/manifest.webmanifest", {"start": reverse("tablet:find")}, request=request)
    return HttpResponse(body, content_type="application/manifest+json")
