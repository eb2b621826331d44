"""Reads of the campaigns app: coupons and the points mall."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Prefetch, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, pgettext

from campaigns.codes import normalize_coupon_code
from campaigns.eligibility import CouponConditions, audience_of, members_who_can_use, nobody_message
from campaigns.models import Coupon, CouponTemplate, MallItem, MallOrder
from loyalty.models import MemberStats, PointsAccount, Tier
from members.models import Member

USABLE_COUPONS_PER_MEMBER = 20


# --- coupons -------------------------------------------------------------------------------------


def coupon_template_by_id(pk) -> CouponTemplate | None:
    try:
        return CouponTemplate.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def coupon_templates_to_issue() -> QuerySet[CouponTemplate]:
    return CouponTemplate.objects.filter(is_active=True).order_by("name", "pk")


def coupon_by_code(code: str) -> Coupon | None:
    return Coupon.objects.select_related("template", "member").filter(code=normalize_coupon_code(code)).first()


def coupon_list() -> QuerySet[Coupon]:
    return Coupon.objects.select_related("template", "member")


def usable_coupons(member_ids: list[int], *, now: datetime | None = None) -> dict[int, list[Coupon]]:
    """Each member's coupons usable now (issued, within their validity), soonest-expiring first, at most
    USABLE_COUPONS_PER_MEMBER each: one query for any number of members."""
    now = now or timezone.now()
    ranked = (
        Coupon.objects.filter(
            member_id__in=member_ids, status=Coupon.Status.ISSUED, valid_from__lte=now, valid_until__gt=now
        )
        .select_related("template")
        .annotate(rank=Window(RowNumber(), partition_by=[F("member_id")], order_by=[F("valid_until").asc(), "id"]))
        .filter(rank__lte=USABLE_COUPONS_PER_MEMBER)
        .order_by("member_id", "valid_until", "id")
    )
    found: dict[int, list[Coupon]] = defaultdict(list)
    for coupon in ranked:
        found[coupon.member_id].append(coupon)
    return found


def member_coupons_recent(member_id: int, *, limit: int) -> list[Coupon]:
    """The member's latest coupons with their templates (one query)."""
    return list(
        Coupon.objects.filter(member_id=member_id).select_related("template").order_by("-issued_at", "-id")[:limit]
    )


def member_coupon_counts(member_id: int, *, now: datetime | None = None) -> dict[str, int]:
    """How many of the member's coupons are usable, expired unused, used and voided (one query)."""
    now = now or timezone.now()
    issued = Q(status=Coupon.Status.ISSUED)
    return Coupon.objects.filter(member_id=member_id).aggregate(
        usable=Count("pk", filter=issued & Q(valid_until__gt=now)),
        expired=Count("pk", filter=issued & Q(valid_until__lte=now)),
        used=Count("pk", filter=Q(status=Coupon.Status.USED)),
        void=Count("pk", filter=Q(status=Coupon.Status.VOID)),
    )


# --- who can use a coupon ------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponAudience:
    """Of an audience (a campaign's segment), how many can use a template's coupons, and who cannot, by tier."""

    template: CouponTemplate
    total: int
    usable: int
    excluded_by_tier: list[tuple[str, int]]  # (tier name, "" for members without a tier; count), most first
    nobody_reason: str = ""  # campaigns.eligibility.STORE / CHANNEL: nobody can use it anywhere

    @property
    def excluded(self) -> int:
        return self.total - self.usable

    def reasons(self) -> str:
        """银卡 18、no tier 1 — or why nobody can use it."""
        if self.nobody_reason:
            return nobody_message(self.template, self.nobody_reason)
        return pgettext("list separator", ", ").join(
            gettext("%(tier)s %(count)s")
            % {"tier": name or gettext("no tier"), "count": number_format(count, force_grouping=True)}
            for name, count in self.excluded_by_tier
        )

    def describe(self) -> str:
        figures = {
            "usable": number_format(self.usable, force_grouping=True),
            "total": number_format(self.total, force_grouping=True),
            "excluded": number_format(self.excluded, force_grouping=True),
        }
        if not self.excluded:
            return gettext("%(usable)s of %(total)s members in the audience can use this coupon.") % figures
        return gettext(
            "%(usable)s of %(total)s members in the audience can use this coupon (%(excluded)s excluded: %(reasons)s)."
        ) % {**figures, "reasons": self.reasons()}


def coupon_audience(template: CouponTemplate, members: QuerySet[Member]) -> CouponAudience:
    """Count who of `members` can use coupons of `template` with the filter the issue uses
    (campaigns.eligibility.members_who_can_use), and the others by tier: two queries, whatever their number."""
    conditions = CouponConditions.of(template)
    audience = audience_of(members)
    reason = conditions.nobody_reason()
    if reason:
        return CouponAudience(
            template=template, total=audience.count(), usable=0, excluded_by_tier=[], nobody_reason=reason
        )
    usable = members_who_can_use(template, audience, conditions=conditions).count()
    condition = conditions.member_filter()
    excluded: list[tuple[str, int]] = []
    if condition is not None:
        rows = (
            audience.exclude(condition)
            .values_list("stats__tier__name")
            .annotate(n=Count("pk"))
            .order_by("-n", "stats__tier__name")
        )
        excluded = [(name or "", n) for name, n in rows]
    return CouponAudience(
        template=template, total=usable + sum(n for _name, n in excluded), usable=usable, excluded_by_tier=excluded
    )


# --- points mall ---------------------------------------------------------------------------------


def mall_item_by_id(pk) -> MallItem | None:
    try:
        return MallItem.objects.select_related("coupon_template").filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def mall_order_by_id(pk) -> MallOrder | None:
    try:
        return mall_orders().filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        return None


def mall_orders() -> QuerySet[MallOrder]:
    return MallOrder.objects.select_related("member", "item", "store", "coupon", "handed_over_by")


@dataclass(frozen=True)
class MallOffer:
    """An item on sale and whether the member may buy it now; if not, why (`reason`: a code)."""

    item: MallItem
    reason: str | None
    ordered: int

    @property
    def available(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class MallShopper:
    """What the mall needs to know of a member to say what they may buy."""

    member: Member
    tier: Tier | None
    points: int
    ordered: dict[int, int]


def mall_shopper(member: Member) -> MallShopper:
    """The member's tier, available points and orders so far per item (cancelled ones not counted):
    three queries."""
    stats = MemberStats.objects.select_related("tier").filter(pk=member.pk).first()
    points = PointsAccount.objects.filter(pk=member.pk).values_list("available", flat=True).first() or 0
    ordered = dict(
        MallOrder.objects.filter(member=member)
        .exclude(status=MallOrder.Status.CANCELLED)
        .values("item_id")
        .annotate(n=Count("pk"))
        .values_list("item_id", "n")
    )
    return MallShopper(member=member, tier=stats.tier if stats else None, points=points, ordered=ordered)


def mall_refusal(
    item: MallItem, shopper: MallShopper | None, *, coupon_conditions: dict[int, CouponConditions] | None = None
) -> str | None:
    """Why the shopper may not buy `item` now (a code), or None. Item-level reasons come first.
    `coupon_conditions` (CouponConditions.of_templates of the items' coupons) saves a query per coupon item."""
    if not item.is_active:
        return "mall_item_unavailable"
    if item.stock is not None and item.stock <= 0:
        return "mall_out_of_stock"
    if shopper is None:
        return None
    if shopper.member.is_frozen:
        return "member_frozen"
    tiers = item.tiers.all()
    if tiers and (shopper.tier is None or all(t.pk != shopper.tier.pk for t in tiers)):
        return "mall_wrong_tier"
    if item.coupon_template_id is not None:
        # Points spent on a coupon the member can never use (campaigns.eligibility, checkout's rule).
        found = (coupon_conditions or {}).get(item.coupon_template_id)
        conditions = found or CouponConditions.of(item.coupon_template)
        if not conditions.allows_tier(shopper.tier.pk if shopper.tier else None):
            return "mall_coupon_unusable"
    if item.per_member_limit is not None and shopper.ordered.get(item.pk, 0) >= item.per_member_limit:
        return "mall_limit_reached"
    if shopper.points < item.points_price:
        return "insufficient_points"
    return None


def mall_offers(shopper: MallShopper | None) -> list[MallOffer]:
    """The items on sale, each with whether the shopper (mall_shopper(member)) may buy it: three queries
    (the items, their tiers, their coupons' tiers and stores) on top of the shopper's three."""
    items = list(
        MallItem.objects.filter(is_active=True)
        .select_related("coupon_template")
        .prefetch_related(Prefetch("tiers", queryset=Tier.objects.order_by("rank")))
        .order_by("points_price", "id")
    )
    coupons = CouponConditions.of_templates([i.coupon_template for i in items if i.coupon_template_id is not None])
    return [
        MallOffer(
            item=item,
            reason=mall_refusal(item, shopper, coupon_conditions=coupons),
            ordered=shopper.ordered.get(item.pk, 0) if shopper else 0,
        )
        for item in items
    ]


def mall_items_admin() -> QuerySet[MallItem]:
    return MallItem.objects.select_related("coupon_template").prefetch_related("tiers")


def coupon_counts_by_status(template: CouponTemplate) -> dict[str, int]:
    return dict(
        Coupon.objects.filter(template=template)
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
        .order_by()
    )
