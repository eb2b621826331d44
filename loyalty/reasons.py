"""The reasons the code writes on points entries, in the reader's language.

A person's reason (an adjustment, a refund) is shown as it was typed. The reasons the code writes
("referral", "sign-in day 7", "campaign 双十一会员回馈") are stable keys, stored once and read in either
language for years; this module is the one place that turns them into words for pages and files.
"""

import re
from collections.abc import Callable

from django.utils.translation import gettext as _

# (PointsEntry.Kind value, pattern of the written key) → its words. Only kinds that no person writes a reason for, so a
# typed reason that happens to look like a key is never reworded.
_WRITTEN: list[tuple[str, re.Pattern, Callable[[re.Match], str]]] = [
    ("expire", re.compile(r"expired"), lambda m: _("Expired")),
    ("unlock", re.compile(r"(\d+)"), lambda m: _("%(points)s points became spendable") % {"points": m[1]}),
    ("behaviour", re.compile(r"referral"), lambda m: _("Referral reward")),
    ("behaviour", re.compile(r"profile completed"), lambda m: _("Profile completed")),
    ("behaviour", re.compile(r"review"), lambda m: _("Review posted")),
    ("behaviour", re.compile(r"share"), lambda m: _("Shared")),
    (
        "behaviour",
        re.compile(r"sign-in day (\d+)"),
        lambda m: _("Daily sign-in, day %(day)s in a row") % {"day": m[1]},
    ),
    ("behaviour", re.compile(r"campaign (.+)", re.S), lambda m: _("Campaign “%(name)s”") % {"name": m[1]}),
    (
        "behaviour",
        re.compile(r"automation \d+: (.+)", re.S),
        lambda m: _("Automation “%(name)s”") % {"name": m[1]},
    ),
]


def points_reason_label(kind: str | None, reason: str) -> str:
    """The reason of a points entry as a reader sees it; `kind` None matches any kind (files whose rows
    carry the kind in a column of their own)."""
    for written_kind, pattern, words in _WRITTEN:
        if kind is not None and kind != written_kind:
            continue
        if kind is None and written_kind == "unlock":
            continue  # a bare number is only a key on an unlock entry
        match = pattern.fullmatch(reason or "")
        if match:
            return words(match)
    return reason or ""
