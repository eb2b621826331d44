"""How the API limits its callers (DRF throttles) and who a caller is by address, for the throttles and
for the login lockouts (django-axes) alike.

The counts live in Django's cache: the embedded mode's in-process cache is enough for its one process; in
production CACHE_URL points to Redis so that every gunicorn worker and host counts together.
"""

import ipaddress
import math

from django.conf import settings
from django.core.checks import Warning, register
from django.http import HttpRequest
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind TRUSTED_PROXIES proxies, the address the outermost of them saw.

    Each proxy appends the address it was called from to X-Forwarded-For, so only the last
    TRUSTED_PROXIES entries are facts: a client may put anything before them. DRF's own rule
    (`NUM_PROXIES`) reads it the same way; what is not an address falls back to REMOTE_ADDR."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class _ByAddress:
    def get_ident(self, request) -> str:
        return client_address(request) or "unknown"

    def get_rate(self) -> str | None:
        # DRF reads the rates once, when its module loads; this reads today's settings.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_ByAddress, UserRateThrottle):
    """Every call of a logged-in user or integration (scope "user"), by account."""


class WriteThrottle(_ByAddress, UserRateThrottle):
    """Calls that may write (scope "write"), by account; reads are not counted here."""

    scope = "write"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class BadTokenThrottle(_ByAddress, SimpleRateThrottle):
    """Wrong tokens from one address (scope "bad_token"). DRF checks throttles after authentication, so
    the token authentication asks this one itself: `blocked()` before looking the token up, and
    `failed()` after a token matched nothing. Good tokens are not counted."""

    scope = "bad_token"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def blocked(self, request) -> bool:
        if self.rate is None:
            return False
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests

    def failed(self, request) -> None:
        if self.rate is None:
            return
        if not hasattr(self, "history"):
            self.blocked(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


def retry_after(wait: float | None) -> str:
    """Whole seconds for Retry-After, never 0 while the caller must still wait."""
    return str(max(1, math.ceil(wait or 0)))


def uses_a_shared_cache() -> bool:
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("locmem.LocMemCache", "dummy.DummyCache"))


@register("security", deploy=True)
def throttles_need_a_shared_cache(app_configs, **kwargs):
    if uses_a_shared_cache():
        return []
    return [
        Warning(
            "API throttles count in a per-process cache: each gunicorn worker counts on its own.",
            hint="Set CACHE_URL to Redis (e.g. redis://127.0.0.1:6379/1).",
            id="config.W101",
        )
    ]
