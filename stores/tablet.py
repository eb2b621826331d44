"""What every tablet page shares: the store this tablet works at, and the role check at that store.

The store is chosen once per login and remembered on the device (a cookie) so the next login at the
same till skips the choice. Every page names the action it performs; `tablet_view` checks it through
`stores.permissions.staff_can` at the chosen store, so a cashier of store A never acts at store B.
"""

import json
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django_htmx.http import HttpResponseClientRedirect

from stores.models import Store
from stores.permissions import staff_can
from stores.roles import Action
from stores.selectors import stores_for_staff

STORE_SESSION_KEY = "tablet_store_id"
STORE_COOKIE = "tablet_store"
STORE_COOKIE_AGE = 365 * 24 * 3600


def tablet_store(request: HttpRequest) -> Store | None:
    """The store chosen for this session, while the staff member may still work there."""
    if hasattr(request, "_tablet_store"):
        return request._tablet_store
    store = None
    store_id = request.session.get(STORE_SESSION_KEY)
    if store_id is not None:
        store = stores_for_staff(request.user).filter(pk=store_id).first()
    request._tablet_store = store
    return store


def remember_store(request: HttpRequest, response, store: Store) -> None:
    request.session[STORE_SESSION_KEY] = store.pk
    request._tablet_store = store
    response.set_cookie(STORE_COOKIE, store.code, max_age=STORE_COOKIE_AGE, samesite="Lax", httponly=True)


def store_remembered_on_device(request: HttpRequest, stores: list[Store]) -> Store | None:
    """The store this till chose last time, or the only one the staff member serves."""
    if len(stores) == 1:
        return stores[0]
    code = request.COOKIES.get(STORE_COOKIE, "")
    return next((s for s in stores if s.code == code), None)


def _to(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def add_service_errors(form, error) -> None:
    """A service's ValidationError on the form: on the field it names where the form has one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def refuse(request: HttpRequest, message: str, *, status: int = 403):
    return render_tablet(request, "tablet/refused.html", {"message": message, "status": status}, status=status)


def tablet_view(action: Action, *, store_required: bool = True):
    """Log in first, then choose a store, then `action` must be allowed at that store."""

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if not request.user.is_authenticated:
                # An htmx request (find-as-you-type) would swap the login page into the results.
                login = _to("tablet:login", request.headers.get("HX-Current-URL", "") or request.get_full_path())
                return HttpResponseClientRedirect(login) if getattr(request, "htmx", False) else redirect(login)
            if not staff_can(request.user, Action.USE_TABLET):
                return refuse(request, _("Your role does not use the store tablet."))
            store = tablet_store(request)
            if store_required and store is None:
                return redirect(_to("tablet:choose-store", request.get_full_path()))
            if not staff_can(request.user, action, store):
                return refuse(request, _("Your role does not allow this at this store."))
            request.tablet_store = store
            return view(request, *args, **kwargs)

        wrapper.tablet_action = action
        return wrapper

    return decorate


# The menu, in the order a till uses it: (url name, label, the action it needs).
MENU = (
    ("tablet:find", _lazy("Find"), Action.LOOKUP_MEMBER),
    ("tablet:register", _lazy("Register"), Action.REGISTER_MEMBER),
    ("tablet:sell", _lazy("Sell"), Action.SELL),
    ("tablet:sales", _lazy("Sales & refunds"), Action.REQUEST_REFUND),
    ("tablet:today", _lazy("Today"), Action.VIEW_STORE_FIGURES),
    ("tablet:reviews", _lazy("To review"), Action.REVIEW_SALES),
)

# Apps above stores add their own pages to the menu (analytics: the staff figures) through this.
_menu_entries: list[tuple[tuple, str | None]] = []


def register_menu_entry(url_name: str, label, action: Action, *, after: str | None = None) -> None:
    """Add a page to the menu, after the entry named `after` (at the end without one); once per name."""
    if any(entry[0] == url_name for entry, _after in _menu_entries):
        return
    _menu_entries.append(((url_name, label, action), after))


def menu_entries() -> list[tuple]:
    """MENU with the entries apps registered, each after the one it named."""
    entries = list(MENU)
    for entry, after in _menu_entries:
        names = [name for name, _label, _action in entries]
        entries.insert(names.index(after) + 1 if after in names else len(entries), entry)
    return entries


# Apps above stores put a count on a menu entry (the sales waiting for review) through this.
_menu_badges: dict[str, Callable[[HttpRequest, Store], int]] = {}


def register_menu_badge(url_name: str, count: Callable[[HttpRequest, Store], int]) -> None:
    _menu_badges[url_name] = count


def _menu(request: HttpRequest, store: Store | None) -> list[dict]:
    if store is None:
        return []
    current = request.resolver_match.view_name if request.resolver_match else ""
    items = []
    for url_name, label, action in menu_entries():
        if not staff_can(request.user, action, store):
            continue
        badge = _menu_badges[url_name](request, store) if url_name in _menu_badges else 0
        items.append({"url": reverse(url_name), "label": label, "current": url_name == current, "badge": badge})
    return items


def _script_text() -> str:
    """The messages tablet.js, offline.js and sell.js show, in the page's language."""
    return json.dumps(
        {
            "synced": _("%(count)s queued sale(s) sent."),
            "flagged": _("A queued sale could not be honoured in full and waits for the manager."),
            "failed": _("A queued sale was refused: %(message)s"),
            "login_to_sync": _("Log in again to send the %(count)s queued sale(s)."),
            "other_staff": _("%(count)s sale(s) queued by another staff member wait for them to log in."),
            "session_expired": _("Your session has expired. Log in again; the sale you were ringing up is kept."),
            "no_results": _("No member found."),
            "offline_results": _("Offline: members seen on this tablet in the last hours."),
            "camera_unavailable": _("This tablet cannot read QR codes with its camera; type the code instead."),
            "points_later": _("Points earned are counted when the sale is sent."),
            "retry": _("Send again"),
            "retry_as_new": _("Send as a new sale"),
        },
        ensure_ascii=False,
    ).replace("</", "<\\/")


def render_tablet(request: HttpRequest, template: str, context: dict | None = None, *, status: int = 200):
    store = getattr(request, "tablet_store", None) or (tablet_store(request) if request.user.is_authenticated else None)
    base = {
        "tablet": {
            "store": store,
            "menu": _menu(request, store) if request.user.is_authenticated else [],
            "offline_hours": settings.TABLET_OFFLINE_MEMBER_HOURS,
        },
        "tablet_text": _script_text(),
    }
    return render(request, template, {**base, **(context or {})}, status=status)
