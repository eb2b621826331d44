"""The member confirms a card use with a one-time code sent to their phone (where the chain asks for it).

The code lives in the cache (Redis in production, shared by every web process) as a keyed digest, for
5 minutes and 5 tries; it never reaches a log or the database in clear. Sending it is the outbox's work,
in campaigns, which registers a sender here (servicecards cannot import campaigns).
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from config.errors import field_error as _error
from servicecards.models import MemberCard
from stores.models import Store
from stores.permissions import require_staff_can
from stores.roles import Action

CODE_TTL_SECONDS = 300
MAX_TRIES = 5
RESEND_AFTER_SECONDS = 60

_senders: list[Callable[..., None]] = []


def register_code_sender(sender: Callable[..., None]) -> None:
    """`sender(member=, code=, card=, store=)` queues the code to the member (inside the caller's transaction);
    it raises a ValidationError when it cannot (a member without a phone)."""
    if sender not in _senders:
        _senders.append(sender)


def _digest(card_id: int, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"{card_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _key(card_id: int) -> str:
    return f"servicecards:use-code:{card_id}"


def use_code_issue(*, card: MemberCard, store: Store, actor) -> None:
    """Send the card's member a new 6-digit code for the use being recorded at `store`."""
    require_staff_can(actor, Action.USE_SERVICE_CARD, store)
    if not _senders:
        raise _error("confirmation", _("Codes cannot be sent: no message channel is set up."), "code_unavailable")
    # One code a minute per card: a tablet cannot flood a member's phone.
    if not cache.add(f"{_key(card.pk)}:sent", 1, RESEND_AFTER_SECONDS):
        raise _error("confirmation", _("A code was sent less than a minute ago."), "code_recently_sent")
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(_key(card.pk), {"digest": _digest(card.pk, code), "tries": 0}, CODE_TTL_SECONDS)
    try:
        with transaction.atomic():
            for sender in _senders:
                sender(member=card.member, code=code, card=card, store=store)
    except Exception:
        # Nothing went out: no code to accept, and the member may be asked again at once.
        cache.delete_many([_key(card.pk), f"{_key(card.pk)}:sent"])
        raise


def use_code_accepted(*, card: MemberCard, code: str) -> bool:
    """Is `code` the card's current code? A right code is used up; five wrong ones void it."""
    held = cache.get(_key(card.pk))
    if not held or not isinstance(code, str) or not code.strip():
        return False
    if hmac.compare_digest(held["digest"], _digest(card.pk, code.strip())):
        cache.delete(_key(card.pk))
        return True
    held["tries"] += 1
    if held["tries"] >= MAX_TRIES:
        cache.delete(_key(card.pk))
    else:
        cache.set(_key(card.pk), held, CODE_TTL_SECONDS)
    return False
