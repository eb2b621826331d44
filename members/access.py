"""Who looked at which member (DESIGN §10): the member access log (members.MemberAccess).

What is recorded, one row per member a request showed:
- a search someone typed (tablet find, API lookup, the back office's member search): each member it
  found, or one row without a member when it found no one, with what the search was by and a keyed
  fingerprint of the text (`query_fingerprint`), never the text: a phone or a name typed at a till must
  not become a plaintext copy in a log;
- a member opened: the tablet's card, sell, top-up and adjust pages, the back office's 360 and change
  pages, the API's summary;
- a full phone shown, wherever it was shown: `members.phones.shown_phone` notes every full number it
  hands out during a request, so a page added later is logged without code of its own. That covers
  the HQ admin's lists and a cashier who typed a full number and reads it back. Downloads are left to
  their export audit row (stores.AuditEntry, with the filter), as a file of a million rows is one act.

Views make one call, `member_access_record(request, …)`. The rows of a request are gathered and written
when its response is ready, in one INSERT (`MemberAccessMiddleware`), so a lookup costs one statement
more. The write is not optional: if it fails, the request fails (an error page or a 5xx answer) rather
than show members without a trace, the same rule as an audit row written in the transaction of the
change it describes. Outside a request (a command, a test calling a view function directly) the rows are
written at once.

Retention: MEMBER_ACCESS_RETENTION_DAYS (365 by default; China's Cybersecurity Law asks for at least six
months of logs). `member_access_maintain`, run daily by beat, drops the months that are past it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from members.codes import is_member_code
from members.models import Member, MemberAccess
from members.phones import full_phones_shown, normalize_phone, phone_search_prefix
from members.selectors import member_ids_by_phone

logger = logging.getLogger(__name__)

Kind = MemberAccess.Kind
Channel = MemberAccess.Channel
SearchedBy = MemberAccess.SearchedBy

_FINGERPRINT_SALT = "members.access.query"


def query_fingerprint(text: str) -> tuple[int, int | None]:
    """(what a search was by, a keyed 64-bit fingerprint of it) — the same search, however it was typed
    (139 1234 5678 or +8613912345678), gives the same number, and the number gives nothing back without
    the key (SECRET_KEY): a reviewer can still answer "did anyone search for this phone?"."""
    text = (text or "").strip()
    if not text:
        return SearchedBy.NOTHING, None
    if text.startswith("MBR1."):
        searched_by, normalised = SearchedBy.QR, text
    elif is_member_code(text):
        searched_by, normalised = SearchedBy.CODE, text
    else:
        try:
            searched_by, normalised = SearchedBy.PHONE, normalize_phone(text)
        except ValidationError:
            prefix = phone_search_prefix(text)
            if prefix is not None:
                searched_by, normalised = SearchedBy.PHONE_PREFIX, prefix
            else:
                searched_by, normalised = SearchedBy.NAME, text.casefold()
    digest = salted_hmac(_FINGERPRINT_SALT, f"{searched_by}:{normalised}", algorithm="sha256").digest()
    return searched_by, int.from_bytes(digest[:8], "big", signed=True)


SEARCH_PARAM = "q"


def search_for_audit(params, *, term: str | None = None):
    """A copy of a list's query parameters (a QueryDict) for an audit row: the search someone typed (q),
    maybe a phone or a name, replaced by what it was by and its fingerprint. `term` is what q stands for
    when q is the back office's search token (config.admin_search)."""
    params = params.copy()
    if params.get(SEARCH_PARAM):
        searched_by, fingerprint = query_fingerprint(params[SEARCH_PARAM] if term is None else term)
        params[SEARCH_PARAM] = f"{SearchedBy(searched_by).name.lower()}:{fingerprint}"
    return params


def channel_of(request) -> int:
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match is not None else ""
    if namespace == "tablet":
        return Channel.TABLET
    if namespace.endswith("-api"):
        return Channel.API
    return Channel.BACK_OFFICE


@dataclass
class _Row:
    kind: int
    searched_by: int = SearchedBy.NOTHING
    query_hash: int | None = None
    full_phone: bool = False


@dataclass
class _RequestAccess:
    """What one request showed, written when its response is ready."""

    request: object
    store: object = None
    rows: dict[int | None, _Row] = field(default_factory=dict)
    ids_by_phone: dict[str, int] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)

    def add(self, kind: int, members: list[Member], searched_by: int, query_hash: int | None, full_phone) -> None:
        if kind == Kind.LOOKUP and not members:
            self.rows.setdefault(None, _Row(kind, searched_by, query_hash))
        for member in members:
            if "phone" in member.__dict__:  # loaded (reading a deferred one would cost a query)
                self.ids_by_phone[member.phone] = member.pk
            row = self.rows.get(member.pk)
            if row is None or row.kind == Kind.SHOWN:
                row = self.rows[member.pk] = _Row(kind, searched_by, query_hash, row is not None and row.full_phone)
            row.full_phone = row.full_phone or bool(full_phone(member) if callable(full_phone) else full_phone)

    def write(self, *, with_phones_shown: bool = True) -> int:
        user = getattr(self.request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        rows = dict(self.rows)
        if with_phones_shown and self.phones:
            unknown = [p for p in self.phones if p not in self.ids_by_phone]
            if unknown:
                self.ids_by_phone.update(member_ids_by_phone(unknown))
            for phone in self.phones:
                member_id = self.ids_by_phone.get(phone)
                if member_id is not None:
                    rows.setdefault(member_id, _Row(Kind.SHOWN)).full_phone = True
        if not rows:
            return 0
        store = self.store or getattr(self.request, "_tablet_store", None)
        now, channel = timezone.now(), channel_of(self.request)
        MemberAccess.objects.bulk_create(
            [
                MemberAccess(
                    created_at=now,
                    staff_id=user.pk,
                    store_id=store.pk if store is not None else None,
                    member_id=member_id,
                    kind=row.kind,
                    channel=channel,
                    searched_by=row.searched_by,
                    query_hash=row.query_hash,
                    full_phone=row.full_phone,
                )
                for member_id, row in rows.items()
            ]
        )
        return len(rows)


_current: ContextVar[_RequestAccess | None] = ContextVar("member_access", default=None)


def member_access_record(
    request,
    *,
    kind: int,
    members: Iterable[Member],
    query: str | None = None,
    store=None,
    full_phone=False,
) -> None:
    """Record that `request.user` saw `members`: found by the search `query` (Kind.LOOKUP), or opened
    (Kind.VIEW). `full_phone` says whether the page showed their full number where it did not come
    through members.phones.shown_phone (a form's input), as a bool or a function of the member. Written
    with the request's other rows when its response is ready."""
    members = list(members)
    searched_by, query_hash = query_fingerprint(query) if query is not None else (SearchedBy.NOTHING, None)
    pending = _current.get()
    if pending is not None and pending.request is getattr(request, "_request", request):
        if store is not None:
            pending.store = store
        pending.add(kind, members, searched_by, query_hash, full_phone)
        return
    single = _RequestAccess(request=request, store=store)
    single.add(kind, members, searched_by, query_hash, full_phone)
    single.write(with_phones_shown=False)


def record_lookup(request, members: Iterable[Member], *, query: str, store=None) -> None:
    """A search typed at a till, an integration or the back office, and the members it showed."""
    member_access_record(request, kind=Kind.LOOKUP, members=members, query=query, store=store)


def record_view(request, members: Iterable[Member], *, full_phone=False, store=None) -> None:
    """A member's own page or summary opened."""
    member_access_record(request, kind=Kind.VIEW, members=members, full_phone=full_phone, store=store)


class MemberAccessMiddleware:
    """Gathers what each request showed of which member and writes it, in one INSERT, before the
    response leaves (after authentication, so it knows who asked)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        pending = _RequestAccess(request=request)
        token, phones_token = _current.set(pending), full_phones_shown.set(pending.phones)
        try:
            response = self.get_response(request)
            # A download is audited as an export (with its filter): a file is one act, not a million views.
            pending.write(with_phones_shown=not getattr(response, "streaming", False))
        finally:
            full_phones_shown.reset(phones_token)
            _current.reset(token)
        return response


# --- retention ------------------------------------------------------------------------------------


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def _next_month(first: datetime.date) -> datetime.date:
    return (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def _partition_name(first: datetime.date) -> str:
    return f"{MemberAccess._meta.db_table}_y{first:%Y}m{first:%m}"


def _month_partitions(cursor) -> list[tuple[str, datetime.date]]:
    """The month partitions of the table on PostgreSQL: (name, first day)."""
    table = MemberAccess._meta.db_table
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        [table],
    )
    found = []
    for (name,) in cursor.fetchall():
        suffix = name.removeprefix(f"{table}_y")
        if suffix != name and len(suffix) == 7 and suffix[4] == "m" and (suffix[:4] + suffix[5:]).isdigit():
            found.append((name, datetime.date(int(suffix[:4]), int(suffix[5:]), 1)))
    return sorted(found, key=lambda item: item[1])


def _is_partitioned(cursor) -> bool:
    cursor.execute(
        "SELECT 1 FROM pg_partitioned_table t JOIN pg_class c ON c.oid = t.partrelid WHERE c.relname = %s",
        [MemberAccess._meta.db_table],
    )
    return cursor.fetchone() is not None


@transaction.atomic
def member_access_maintain(*, today: datetime.date | None = None, months_ahead: int = 2) -> dict[str, int]:
    """Keep the access log within MEMBER_ACCESS_RETENTION_DAYS and ready for the coming months.

    On PostgreSQL (a table partitioned by month): create the partitions of this month and the next
    `months_ahead`, drop each month partition that ended before the retention's first day (rows are kept
    at least the retention, at most a month more), and delete what is older still from the DEFAULT
    partition. Elsewhere: delete the rows older than the retention. Idempotent."""
    today = today or timezone.localdate()
    cutoff = _local_midnight(today - datetime.timedelta(days=settings.MEMBER_ACCESS_RETENTION_DAYS))
    table = MemberAccess._meta.db_table
    summary = {"partitions_created": 0, "partitions_dropped": 0, "rows_deleted": 0}
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or not _is_partitioned(cursor):
            summary["rows_deleted"] = MemberAccess.objects.filter(created_at__lt=cutoff).delete()[0]
            return summary
        existing = _month_partitions(cursor)
        have = {first for _name, first in existing}
        first = today.replace(day=1)
        for _month in range(months_ahead + 1):
            following = _next_month(first)
            if first not in have:
                # A month whose rows went to the DEFAULT partition (beat was off) cannot get its own
                # partition until they are moved; they stay where they are and are pruned from there.
                cursor.execute(
                    f"SELECT 1 FROM {connection.ops.quote_name(table + '_default')} "
                    "WHERE created_at >= %s AND created_at < %s LIMIT 1",
                    [_local_midnight(first), _local_midnight(following)],
                )
                if cursor.fetchone() is None:
                    start, end = _local_midnight(first).isoformat(), _local_midnight(following).isoformat()
                    cursor.execute(
                        f"CREATE TABLE {connection.ops.quote_name(_partition_name(first))} PARTITION OF "
                        f"{connection.ops.quote_name(table)} FOR VALUES FROM ('{start}') TO ('{end}')"
                    )
                    summary["partitions_created"] += 1
                else:
                    logger.warning("member access log: rows of %s are in the default partition", first)
            first = following
        for name, month in existing:
            if _local_midnight(_next_month(month)) <= cutoff:
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(name)}")
                summary["partitions_dropped"] += 1
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(table + '_default')} WHERE created_at < %s", [cutoff])
        summary["rows_deleted"] = cursor.rowcount
    return summary
