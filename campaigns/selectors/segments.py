"""Reads of segments: the list, a segment's members (what campaigns target), and the preview."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from campaigns.models import Segment
from campaigns.segments import members_matching
from members.models import Member
from members.phones import shown_phone

PREVIEW_SIZE = 20


def segment_list() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name", "pk")


def segment_by_id(pk) -> Segment | None:
    try:
        return Segment.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def segment_members(segment: Segment, *, now: datetime | None = None) -> QuerySet[Member]:
    """The members the segment selects now: members_matching(segment.rules), as campaigns target them."""
    return members_matching(segment.rules, now=now)


@dataclass(frozen=True)
class PreviewMember:
    pk: int
    code: str
    name: str
    phone: str
    tier: str
    home_store: str
    points: int
    last_purchase_at: datetime | None


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    by_tier: list[tuple[str, int]]
    members: list[PreviewMember]


def segment_counts_by_tier(queryset: QuerySet[Member]) -> list[tuple[str, int]]:
    """[(tier name, members), …] from the entry tier up; members without a tier last. One query."""
    rows = (
        queryset.order_by()
        .values("stats__tier__rank", "stats__tier__name")
        .annotate(members=Count("pk"))
        .order_by("stats__tier__rank")
    )
    counts = [(row["stats__tier__name"], row["members"]) for row in rows]
    named = [(name, n) for name, n in counts if name is not None]
    untiered = sum(n for name, n in counts if name is None)
    return named + ([(_("No tier"), untiered)] if untiered else [])


def segment_preview(
    rules, *, full_phones: bool, now: datetime | None = None, size: int = PREVIEW_SIZE
) -> SegmentPreview:
    """The count (the sum of the counts by tier), the counts by tier and the first `size` members (by
    member number) of the rules; phones masked unless `full_phones`. Two queries; raises SegmentRuleError
    for bad rules."""
    queryset = members_matching(rules, now=now)
    by_tier = segment_counts_by_tier(queryset)
    first = (
        queryset.select_related("home_store", "stats__tier", "points_account")
        .only(
            "pk",
            "code",
            "name",
            "phone",
            "home_store__code",
            "home_store__name",
            "stats__tier__name",
            "stats__last_purchase_at",
            "points_account__available",
        )
        .order_by("pk")[:size]
    )
    members = []
    for member in first:
        stats = getattr(member, "stats", None)
        account = getattr(member, "points_account", None)
        members.append(
            PreviewMember(
                pk=member.pk,
                code=member.code,
                name=member.name,
                phone=shown_phone(member.phone, full=full_phones),
                tier=stats.tier.name if stats is not None and stats.tier is not None else "",
                home_store=str(member.home_store.name) if member.home_store is not None else "",
                points=account.available if account is not None else 0,
                last_purchase_at=stats.last_purchase_at if stats is not None else None,
            )
        )
    return SegmentPreview(count=sum(n for _name, n in by_tier), by_tier=by_tier, members=members)
