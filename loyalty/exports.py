"""Exports of the loyalty app (issue 4).

- The columns loyalty adds to the members export (积分余额, 储值余额, 储值本金, 储值赠金, 会员等级): registered
  from LoyaltyConfig.ready into members.exports, each read per chunk of members with one query; those
  the members import must not write are registered with it as ignored, so an export imports again.
- The points ledger and the stored-value ledger for accountants: every entry between two local days
  (Asia/Shanghai; both days included), optionally of one store, oldest first, streamed like the members
  export (config.tabular) and audited.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from config.tabular import DATETIME, INT, MONEY, TEXT, TabularExport, batched, check_row_limit, export_format
from loyalty.models import MemberStats, PointsAccount, PointsEntry, Tier, Wallet, WalletEntry
from loyalty.reasons import points_reason_label
from members.export_jobs import ExportJobRefused
from members.exports import (
    CHUNK_SIZE,
    HEADER_LANGUAGES,
    ExportColumn,
    ExportContext,
    for_members,
    local_day_bounds,
    phone_cell,
    register_member_export_column,
    register_member_export_source,
)
from members.imports.columns import IgnoredColumn
from members.imports.extensions import register_ignored_import_column
from members.models import ExportJob
from members.phones import sees_full_phones
from stores.models import Store
from stores.permissions import staff_can
from stores.roles import Action
from stores.services import audit_record

LEDGER_EXPORTED = "loyalty.ledger_exported"
ZERO = Decimal("0.00")

# --- columns of the members export ------------------------------------------------------------


def _fetch_points(ids: list[int], cache: dict) -> dict[int, int]:
    """The points a member holds: available and pending, i.e. the sum of their ledger entries."""
    rows = PointsAccount.objects.filter(for_members("member_id", ids)).values_list("member_id", "available", "pending")
    return {member_id: available + pending for member_id, available, pending in rows}


def _fetch_wallets(ids: list[int], cache: dict) -> dict[int, tuple[Decimal, Decimal]]:
    rows = Wallet.objects.filter(for_members("member_id", ids)).values_list("member_id", "principal", "bonus")
    return {member_id: (principal, bonus) for member_id, principal, bonus in rows}


def _fetch_tiers(ids: list[int], cache: dict) -> dict[int, str]:
    """Each member's tier; one who has not bought yet is in the entry tier, as the member summary says."""
    if "entry_tier" not in cache:
        first = Tier.objects.order_by("rank").values_list("name", "threshold").first()
        cache["entry_tier"] = first[0] if first and first[1] == 0 else None
    tiers = dict(
        MemberStats.objects.filter(for_members("member_id", ids), tier__isnull=False).values_list(
            "member_id", "tier__name"
        )
    )
    entry = cache["entry_tier"]
    if entry is None:
        return tiers
    return {member_id: tiers.get(member_id, entry) for member_id in ids}


def _points_cell(ctx):
    return lambda points: points or 0


def _wallet_cell(part: int | None):
    def cell(ctx):
        if part is None:
            return lambda wallet: wallet[0] + wallet[1] if wallet else ZERO
        return lambda wallet: wallet[part] if wallet else ZERO

    return cell


def register_member_export_columns() -> None:
    # One source per table, each one indexed query per chunk. (One query joining the three tables to
    # the chunk's members was measured twice as slow: PostgreSQL hashes whole tables for it.)
    register_member_export_source("loyalty.points", _fetch_points)
    register_member_export_source("loyalty.wallet", _fetch_wallets)
    register_member_export_source("loyalty.tier", _fetch_tiers)
    for column in [
        ExportColumn(
            "points_balance",
            "points_balance",
            "积分余额",
            kind=INT,
            source="loyalty.points",
            cell=_points_cell,
            order=90,
        ),
        ExportColumn(
            "stored_value_balance",
            "stored_value_balance",
            "储值余额",
            kind=MONEY,
            source="loyalty.wallet",
            cell=_wallet_cell(None),
            order=100,
        ),
        ExportColumn("tier", "tier", "会员等级", source="loyalty.tier", order=140),
        ExportColumn(
            "stored_value_principal",
            "stored_value_principal",
            "储值本金",
            kind=MONEY,
            source="loyalty.wallet",
            cell=_wallet_cell(0),
            order=200,
            default=False,
        ),
        ExportColumn(
            "stored_value_bonus",
            "stored_value_bonus",
            "储值赠金",
            kind=MONEY,
            source="loyalty.wallet",
            cell=_wallet_cell(1),
            order=210,
            default=False,
        ),
    ]:
        register_member_export_column(column)


def register_ignored_import_columns() -> None:
    """The columns above that the members import reads past, so that an export imports again.

    积分余额 and 储值余额 are imported (loyalty.services.opening: opening balances, or a check that they
    are the member's current balances). The others are not written from a spreadsheet cell:
    """
    # A tier follows from what the member spent (loyalty.services.tiers); typing one in would not
    # survive the next recalculation, and upgrades are decided by the tier rules only.
    register_ignored_import_column(IgnoredColumn("tier", "会员等级", ("member tier",)))
    # The split of stored value between principal and bonus is the ledger's (spending splits by the
    # wallet policy; only principal is paid back); an opening balance is all principal, and 储值余额
    # carries the total that is checked.
    register_ignored_import_column(
        IgnoredColumn("stored_value_principal", "储值本金", ("stored value principal", "principal"))
    )
    register_ignored_import_column(IgnoredColumn("stored_value_bonus", "储值赠金", ("stored value bonus", "bonus")))


# --- ledgers ----------------------------------------------------------------------------------

POINTS, WALLET = "points", "wallet"


@dataclass(frozen=True)
class LedgerColumn:
    header_en: str
    header_zh: str
    kind: str
    field: str
    cell: Any = None  # (ctx) → (value → cell value)


def _local_time(ctx: ExportContext):
    tz = ctx.tz
    return lambda value: value.astimezone(tz).replace(tzinfo=None, microsecond=0)


def _reason_label(ctx: ExportContext):
    language = "zh-hans" if ctx.language == "zh" else "en"

    def cell(value):
        with translation.override(language):
            return points_reason_label(None, value)

    return cell


def _kind_label(choices):
    def cell(ctx: ExportContext):
        with translation.override("zh-hans" if ctx.language == "zh" else "en"):
            labels = {value: str(label) for value, label in choices.choices}
        return lambda value: labels.get(value, value)

    return cell


_HEAD = [
    LedgerColumn("time", "时间", DATETIME, "created_at", _local_time),
    LedgerColumn("member_code", "会员编号", TEXT, "member__code"),
    LedgerColumn("member_name", "姓名", TEXT, "member__name"),
    LedgerColumn("phone", "手机号", TEXT, "member__phone", phone_cell),
]
_TAIL = [
    LedgerColumn("store_code", "门店编码", TEXT, "store__code"),
    LedgerColumn("staff", "操作员", TEXT, "staff__username"),
    LedgerColumn("sale_id", "销售单号", INT, "sale_id"),
]
LEDGERS: dict[str, tuple[type, list[LedgerColumn]]] = {
    POINTS: (
        PointsEntry,
        [
            *_HEAD,
            LedgerColumn("kind", "类型", TEXT, "kind", _kind_label(PointsEntry.Kind)),
            LedgerColumn("points", "积分", INT, "points"),
            LedgerColumn("debt_change", "欠款变动", INT, "debt"),
            *_TAIL,
            LedgerColumn("reason", "原因", TEXT, "reason", _reason_label),
        ],
    ),
    WALLET: (
        WalletEntry,
        [
            *_HEAD,
            LedgerColumn("kind", "类型", TEXT, "kind", _kind_label(WalletEntry.Kind)),
            LedgerColumn("principal", "本金", MONEY, "principal"),
            LedgerColumn("bonus", "赠金", MONEY, "bonus"),
            *_TAIL,
            LedgerColumn("topup_id", "充值单号", INT, "topup_id"),
            # A wallet entry has no reason of its own; a refund's is the reason money came back.
            LedgerColumn("reason", "原因", TEXT, "refund__reason"),
        ],
    ),
}


def _ledger_rows(queryset, columns: list[LedgerColumn], ctx: ExportContext, chunk_size: int):
    fields = [c.field for c in columns]
    converters = [(i, c.cell(ctx)) for i, c in enumerate(columns) if c.cell is not None]
    rows = queryset.values_list(*fields).iterator(chunk_size=chunk_size)
    for chunk in batched(rows, chunk_size):
        out = []
        for row in chunk:
            row = list(row)
            for i, convert in converters:
                if row[i] is not None:
                    row[i] = convert(row[i])
            out.append(row)
        yield out


def ledger_export_prepare(
    *,
    actor,
    ledger: str,
    start: date,
    end: date,
    store: Store | None = None,
    fmt: str,
    language: str = "zh",
    source: str = "admin",
    chunk_size: int | None = None,
) -> TabularExport:
    """Check, count and audit a ledger export for the local days `start`–`end` (both included).

    Raises PermissionDenied without Action.EXPORT_DATA, ValidationError for an unknown ledger, format
    or header language, an end before the start, or an XLSX past Excel's row limit: all before the
    audit row, so a refused export leaves no trace but its message.
    """
    if not staff_can(actor, Action.EXPORT_DATA):
        raise PermissionDenied(_("Your role does not allow exports."))
    if ledger not in LEDGERS:
        raise ValidationError(
            _("Unknown ledger “%(ledger)s”: choose points or wallet."), code="unknown_ledger", params={"ledger": ledger}
        )
    if start is None or end is None:
        raise ValidationError(_("Give both the first and the last day."), code="range_required")
    local_day_bounds(start, end)  # refuses an end before the start
    fmt = export_format(fmt)
    if language not in HEADER_LANGUAGES:
        raise ValidationError(
            _("Unknown header language “%(language)s”: choose zh or en."),
            code="unknown_language",
            params={"language": language},
        )
    queryset = _ledger_queryset(ledger, start, end, store)
    full_phones = sees_full_phones(actor)
    count = queryset.count()
    check_row_limit(fmt, count)
    entry = audit_record(
        actor=actor,
        action=LEDGER_EXPORTED,
        store=store,
        reason=f"{ledger} ledger export ({source})",
        data={
            "source": source,
            "ledger": ledger,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "store": store.code if store else None,
            "rows": count,
            "format": fmt,
            "headers": language,
            "phones": "full" if full_phones else "masked",
        },
    )
    return ledger_export_build(
        ledger=ledger,
        start=start,
        end=end,
        store=store,
        fmt=fmt,
        language=language,
        full_phones=full_phones,
        count=count,
        audit_id=entry.pk,
        chunk_size=chunk_size,
    )


def _ledger_queryset(ledger: str, start: date, end: date, store: Store | None):
    since, until = local_day_bounds(start, end)
    model, _columns = LEDGERS[ledger]
    queryset = model.objects.filter(created_at__gte=since, created_at__lt=until)
    if store is not None:
        queryset = queryset.filter(store=store)
    return queryset


def ledger_export_build(
    *,
    ledger: str,
    start: date,
    end: date,
    store: Store | None,
    fmt: str,
    language: str,
    full_phones: bool,
    count: int,
    audit_id: int | None = None,
    chunk_size: int | None = None,
) -> TabularExport:
    """The rows to write of a ledger export already checked, counted and audited: where
    ledger_export_prepare ends, and where an export job's worker starts again (members.export_jobs)."""
    _model, columns = LEDGERS[ledger]
    ctx = ExportContext(full_phones=full_phones, language=language, tz=timezone.get_default_timezone())
    ordered = _ledger_queryset(ledger, start, end, store).order_by("created_at", "pk")
    size = chunk_size or CHUNK_SIZE
    suffix = f"-{store.code}" if store is not None else ""
    return TabularExport(
        headers=[c.header_zh if language == "zh" else c.header_en for c in columns],
        kinds=[c.kind for c in columns],
        chunks=lambda: _ledger_rows(ordered, columns, ctx, size),
        count=count,
        fmt=fmt,
        filename=f"{ledger}-ledger-{start.isoformat()}-{end.isoformat()}{suffix}.{fmt}",
        audit_id=audit_id,
        details={"full_phones": full_phones, "language": language},
    )


# The kinds of export job the ledgers' exports become when they are too large for a request.
LEDGER_EXPORT_KINDS = {POINTS: ExportJob.Kind.POINTS_LEDGER, WALLET: ExportJob.Kind.WALLET_LEDGER}


def ledger_export_rebuild(job: ExportJob, *, full_phones: bool) -> TabularExport:
    """The ledger export of a job (members.export_jobs): its ledger, days, store, format and headers."""
    ledger = {kind: ledger for ledger, kind in LEDGER_EXPORT_KINDS.items()}.get(job.kind)
    if ledger is None:
        raise ExportJobRefused(_("This is not a ledger export."))
    return ledger_export_build(
        ledger=ledger,
        start=job.start,
        end=job.end,
        store=job.store,
        fmt=job.fmt,
        language=job.headers,
        full_phones=full_phones,
        count=job.total_rows,
        audit_id=job.audit_entry_id,
    )
