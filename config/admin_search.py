"""The back office's search box, without the search in the address (DESIGN §10, issue 17).

Django's changelist searches with `GET ?q=…`, so a phone or a name typed into the box lands in the
address bar, the browser's history, every proxy's and gunicorn's access log, and every link of the page
(pagination, filters, sorting, `_changelist_filters` of the change pages). Here the box POSTs; the term is
kept in the session under a random token and the list's address carries only `q=~<token>`. Every link
Django builds from the list's parameters keeps the token, never the term; the term itself is read back
from the session when the list is built (`SearchTokenChangeList.get_queryset`).

A token is worth nothing outside its session: another user (or the same one after logging out) who opens
the address gets the list without the search and a message to search again. A `?q=` with a term (an old
bookmark) is moved into the session and answered with a redirect to the token, so that the term is never
repeated in a link; the one request that carried it cannot be unlogged.

Code that builds a list outside a browser request (an export job's worker) hands the term over as
`request.admin_search_term`.
"""

from __future__ import annotations

import secrets
from functools import cache

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.translation import gettext as _

TOKEN_PREFIX = "~"
SESSION_KEY = "admin_searches"
# The searches a session keeps: older tokens expire, their lists are shown without the search.
KEPT_SEARCHES = 50
_NOT_FROM_THE_SEARCH_BOX = ("csrfmiddlewaretoken",)


def is_search_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX)


def search_token(request: HttpRequest, term: str) -> str:
    """The token that stands for `term` in this session (the same term keeps its token)."""
    kept: dict[str, str] = dict(request.session.get(SESSION_KEY) or {})
    for token, kept_term in kept.items():
        if kept_term == term:
            return token
    token = TOKEN_PREFIX + secrets.token_urlsafe(12)
    kept[token] = term
    while len(kept) > KEPT_SEARCHES:
        kept.pop(next(iter(kept)))
    request.session[SESSION_KEY] = kept
    return token


def search_term(request: HttpRequest, value: str) -> str | None:
    """What the list's `q` stands for: the term behind a token of this session, None for a token this
    session does not know (expired, another user's), the value itself otherwise."""
    handed_over = getattr(request, "admin_search_term", None)
    if handed_over is not None:
        return handed_over
    if not value or not is_search_token(value):
        return value
    session = getattr(request, "session", None)
    kept = (session.get(SESSION_KEY) or {}) if session is not None else {}
    return kept.get(value)


def search_for_audit_term(request: HttpRequest, params) -> str:
    """The term a list's parameters search for (for an audit row's fingerprint)."""
    return search_term(request, params.get(SEARCH_VAR, "")) or ""


class SearchTokenChangeList:
    """Mixed into a ModelAdmin's ChangeList: `q` is a token, the search is its term."""

    def get_queryset(self, request, exclude_parameters=None):
        if not getattr(self, "_search_term_read", False):
            self._search_term_read = True
            term = search_term(request, self.query)
            if term is None:
                term = ""
                messages.warning(request, _("That search has expired: search again."), fail_silently=True)
            self.query = term
        return super().get_queryset(request, exclude_parameters)


@cache
def with_search_tokens(changelist_class):
    if issubclass(changelist_class, SearchTokenChangeList):
        return changelist_class
    return type(changelist_class.__name__, (SearchTokenChangeList, changelist_class), {})


def _is_changelist_form(post) -> bool:
    # The list's own POSTs: an action, or the rows of list_editable.
    return any(name in post for name in ("action", "index", "_save", helpers.ACTION_CHECKBOX_NAME))


class SearchByPost:
    """Mixed into every ModelAdmin of the back office (config.admin_site.BackOfficeSite)."""

    def get_changelist(self, request, **kwargs):
        return with_search_tokens(super().get_changelist(request, **kwargs))

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and SEARCH_VAR in request.POST and not _is_changelist_form(request.POST):
            if not self.has_view_or_change_permission(request):
                raise PermissionDenied
            return self._to_search_token(request, request.POST)
        term = request.GET.get(SEARCH_VAR, "")
        if request.method == "GET" and term and not is_search_token(term):
            return self._to_search_token(request, request.GET)
        return super().changelist_view(request, extra_context)

    def _to_search_token(self, request, source) -> HttpResponseRedirect:
        params = source.copy()
        for name in (*_NOT_FROM_THE_SEARCH_BOX, PAGE_VAR):
            params.pop(name, None)
        term = params.pop(SEARCH_VAR, [""])[-1]
        if term.strip():
            params[SEARCH_VAR] = search_token(request, term)
        query = params.urlencode()
        return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
