"""Sessions end after a while without use and after a shift at most, checked on the server.

A tablet is a shared device: its login (made on the tablet's login page, or any login of store staff, who
work nowhere else) ends after TABLET_SESSION_IDLE_MINUTES without a request and TABLET_SESSION_MAX_HOURS
after it began; the back office's after BACK_OFFICE_SESSION_IDLE_MINUTES and BACK_OFFICE_SESSION_MAX_HOURS.

The last use is written to the session at most once a minute, not on every request (which
SESSION_SAVE_EVERY_REQUEST would do): an idle timeout may so be up to a minute late.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest
from django.utils.translation import gettext as _

STARTED = "session_started_at"
SEEN = "session_seen_at"
KIND = "session_kind"
TABLET = "tablet"
SEEN_EVERY = 60  # seconds


def mark_tablet_session(request: HttpRequest) -> None:
    """Call right after a login on the tablet: this session follows the tablet's limits."""
    request.session[KIND] = TABLET


def is_tablet_session(request: HttpRequest) -> bool:
    return request.session.get(KIND) == TABLET or not request.user.is_staff


def limits(request: HttpRequest) -> tuple[int, int]:
    """(idle, absolute) lifetime of this request's session, in seconds."""
    if is_tablet_session(request):
        return settings.TABLET_SESSION_IDLE_MINUTES * 60, settings.TABLET_SESSION_MAX_HOURS * 3600
    return settings.BACK_OFFICE_SESSION_IDLE_MINUTES * 60, settings.BACK_OFFICE_SESSION_MAX_HOURS * 3600


class SessionTimeoutMiddleware:
    """After AuthenticationMiddleware: a session past its idle or absolute limit is logged out before the
    view runs, which then answers as to anyone not logged in (the login page, or 401 from the API). A
    session's clocks start at its login (`restart_on_login`; a session from before these limits at its
    next request), and its last use is written once a minute at most."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.user.is_authenticated:
            self._end_if_expired(request)
        response = self.get_response(request)
        # Only a login held by the session: an API call with a token is authenticated too, and has none.
        if SESSION_KEY in request.session:
            self._stamp(request)
        return response

    def _end_if_expired(self, request: HttpRequest) -> None:
        started, seen = request.session.get(STARTED), request.session.get(SEEN)
        if started is None or seen is None:
            return  # a login not stamped yet (from before these limits): it starts counting now
        now = int(time.time())
        idle, absolute = limits(request)
        if now - started > absolute:
            logout(request)
            message = _("Your login has lasted %(hours)s hours, the longest allowed. Log in again.")
            messages.info(request, message % {"hours": absolute // 3600})
        elif now - seen > idle:
            logout(request)
            message = _("You were logged out after %(minutes)s minutes without use. Log in again.")
            messages.info(request, message % {"minutes": idle // 60})

    def _stamp(self, request: HttpRequest) -> None:
        session, now = request.session, int(time.time())
        if session.get(STARTED) is None:
            session[STARTED] = session[SEEN] = now
        elif now - session.get(SEEN, 0) >= SEEN_EVERY:
            session[SEEN] = now


def restart_on_login(sender, request, user, **kwargs) -> None:
    """user_logged_in: a login starts its session's clocks (Django keeps the session's data when the same
    person logs in again). Stamped here, the first request after a login writes nothing more."""
    if request is not None and hasattr(request, "session"):
        request.session[STARTED] = request.session[SEEN] = int(time.time())
