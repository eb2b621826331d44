"""One idempotency rule for every write that carries a client's request id (DESIGN §10).

Sales, refunds, top-ups, stored-value payouts, points adjustments, staff coupon issues and points-mall
orders all follow it, in this order:

1. The request id is checked (`validate_request_id`).
2. The caller is authorised for the request as sent, as if it were new: an earlier answer is never
   looked up for someone who could not have made the request.
3. An earlier write under the same request id answers through `replay`: the first answer (marked as a
   replay; the API says 200) when the payload is the same (every field that decides what was written:
   member, store, sale, amounts, reason…) and the caller may see the original (may do the same action
   where it was done); anything else is 409 request_id_reused and reveals nothing of the original.
4. The database makes a request id unique per kind of write (a UNIQUE constraint on the row the write
   records), so two racing requests make one row: the loser's insert fails, and it answers through
   `replay` as if it had come second.
"""

import hashlib
import json
import re
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from django.utils.translation import gettext as _

from config.errors import field_error as _error
from loyalty.services.policy import as_replay
from stores.models import Store
from stores.permissions import staff_access, staff_can
from stores.roles import STORE_SCOPED_ACTIONS, Action

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,63}$")
# Imported sales' request ids are "import:" and their receipt number (loyalty.services.sales_import).
RESERVED_REQUEST_PREFIX = "import:"

T = TypeVar("T")


def validate_request_id(request_id: str) -> None:
    if not isinstance(request_id, str) or not REQUEST_ID_RE.match(request_id):
        raise _error(
            "request_id",
            _("A request id is 8–64 letters, digits, or - _ . : (a UUID is best)."),
            "invalid_request_id",
        )
    if request_id.lower().startswith(RESERVED_REQUEST_PREFIX):
        raise _error(
            "request_id",
            _("Request ids starting with “import:” are kept for imported sales."),
            "invalid_request_id",
        )


def payload_hash(**payload) -> str:
    """A digest of what a request asks, for writes that keep it beside their request id."""

    def default(value):
        if isinstance(value, Decimal):
            return str(value.normalize())
        if isinstance(value, datetime):
            return value.isoformat()
        if hasattr(value, "pk"):
            return value.pk
        raise TypeError(type(value))

    canonical = json.dumps(payload, sort_keys=True, default=default, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def may_see(actor, action: Action, store: Store | None) -> bool:
    """May `actor` see a write of `action` made at `store`: may they do it there? A store-scoped write
    recorded without a store was HQ's, and only chain-wide roles see it."""
    if store is None and action in STORE_SCOPED_ACTIONS:
        return staff_access(actor).chain_wide and staff_can(actor, action)
    return staff_can(actor, action, store)


def request_id_reused(message: str | None = None):
    return _error(
        "request_id",
        message or _("This request id was already used for a different request."),
        "request_id_reused",
    )


def replay(original: T, *, same: bool, actor, action: Action, store: Store | None, message: str | None = None) -> T:
    """The answer to a request id seen before: `original` again if the request is `same` and `actor` may
    see it (done `action` at `store`), else 409 request_id_reused."""
    if not same or not may_see(actor, action, store):
        raise request_id_reused(message)
    return as_replay(original)
