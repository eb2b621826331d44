"""Logins against guessing, through django-axes: every wrong password (the back office's login, the
tablet's, and a manager's approval typed at a till) counts against the account and against the address
it came from. Past either limit, within the cool-off, no login of that account or from that address gets
in, right password or not, until the cool-off has passed since the last failure or HQ unlocks it (the
admin's "Locked logins", audited)."""

import math
from dataclasses import dataclass
from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import authenticate
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from stores.tablet import render_tablet


class LoginAttemptHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit of its own for an address: a store's tablets and an office
    share one address behind their router, so a few typos must not lock out everyone there as soon as
    they lock one account."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
        by_account = _failures(recent.filter(username=get_client_username(request, credentials)))
        by_address = _failures(recent.filter(ip_address=request.axes_ip_address))
        # Axes compares one number with the account's limit: the address's count is brought to that scale.
        return max(by_account, by_address - (settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS - settings.AXES_FAILURE_LIMIT))


def _failures(attempts) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def cool_off_minutes() -> int:
    return math.ceil(get_cool_off().total_seconds() / 60)


def lockout_message() -> str:
    return _(
        "Too many wrong passwords for this account or from this device. Try again in %(minutes)s minutes, "
        "or ask HQ to unlock it."
    ) % {"minutes": cool_off_minutes()}


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page a locked-out login gets, the tablet's or the back office's, 429."""
    context = {"message": lockout_message()}
    if request.path.startswith(reverse("tablet:find")):
        response = render_tablet(request, "tablet/locked_out.html", context, status=429)
    else:
        context = {**admin.site.each_context(request), **context, "title": _("Login locked")}
        response = TemplateResponse(request, "admin/locked_out.html", context, status=429).render()
    response["Retry-After"] = str(int(get_cool_off().total_seconds()))
    return response


class ApproverLocked(Exception):
    """The approving manager's account, or the till's address, is locked out."""

    def __init__(self):
        self.message = _(
            "Too many wrong manager passwords for this account or from this device. Try again in %(minutes)s "
            "minutes, or ask HQ to unlock it."
        ) % {"minutes": cool_off_minutes()}
        self.retry_after = int(get_cool_off().total_seconds())
        super().__init__(self.message)


def approver_authenticate(request, *, username: str, password: str):
    """A manager's username and password typed at a till to approve something → the manager, or None when
    they are wrong. Counted like a login: a till cannot use it to guess passwords (raises ApproverLocked)."""
    django_request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    user = authenticate(django_request, username=username, password=password)
    locked = getattr(django_request, "axes_locked_out", False)
    # The page that asked answers the lockout itself; axes' middleware must not swap in the login's page.
    django_request.axes_locked_out = False
    if locked:
        raise ApproverLocked()
    return user


@dataclass(frozen=True)
class Lockout:
    """Failed logins of one account or from one address within the cool-off."""

    kind: str  # "account" or "address"
    value: str
    failures: int
    last_failure: datetime
    limit: int

    @property
    def locked(self) -> bool:
        return self.failures >= self.limit

    @property
    def until(self) -> datetime:
        return self.last_failure + get_cool_off()


def recent_login_failures() -> tuple[list[Lockout], list[Lockout]]:
    """(accounts, addresses) with failed logins within the cool-off, the most recent first."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=timezone.now() - get_cool_off())
    accounts = (
        recent.exclude(username__isnull=True)
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .order_by("-last")
    )
    addresses = (
        recent.exclude(ip_address__isnull=True)
        .values("ip_address")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .order_by("-last")
    )
    return (
        [Lockout("account", r["username"], r["failures"], r["last"], settings.AXES_FAILURE_LIMIT) for r in accounts],
        [
            Lockout("address", r["ip_address"], r["failures"], r["last"], settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS)
            for r in addresses
        ],
    )
