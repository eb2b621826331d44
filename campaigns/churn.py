"""Why a member is slipping away, as the analytics app scores it: a pluggable source.

campaigns may not import analytics (DESIGN §3: analytics → campaigns), so analytics registers a function
at start: ``register_churn_source(fn)`` where ``fn(*, now, member_ids=None)`` returns (member_id, reason)
rows for the members at risk of churning (of `member_ids` only, when given). The churn-risk trigger
finds these members, and win-back automations pick their actions by the reason. With no source
registered nobody is at risk, and the back office says why.
"""

from collections.abc import Callable, Iterable
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChurnReason(models.TextChoices):
    PRICE_SENSITIVE = "price_sensitive", _("Price sensitive")
    CATEGORY_SHIFT = "category_shift", _("Moved to other categories")
    LONG_INACTIVE = "long_inactive", _("Long inactive")


ChurnSource = Callable[..., Iterable[tuple[int, str]]]

_sources: list[ChurnSource] = []


def register_churn_source(source: ChurnSource) -> None:
    """The last registration wins (the analytics app's scoring, or a test's fake)."""
    _sources[:] = [source]


def unregister_churn_sources() -> None:
    _sources.clear()


def has_churn_source() -> bool:
    return bool(_sources)


def churn_reasons(*, now: datetime, member_ids: list[int] | None = None) -> dict[int, str]:
    """{member_id: reason} of the members at risk (of `member_ids`, when given); unknown reasons are
    dropped, so a source's new reason never reaches an automation that does not know it."""
    if not _sources:
        return {}
    known = set(ChurnReason.values)
    rows = _sources[0](now=now, member_ids=member_ids)
    wanted = None if member_ids is None else set(member_ids)
    return {
        int(member_id): reason
        for member_id, reason in rows
        if reason in known and (wanted is None or int(member_id) in wanted)
    }
