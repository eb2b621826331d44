"""Coupons at checkout: the CouponApplier that loyalty's sale_checkout calls (registered in apps.py).

Checkout asks, after the tier discount, what the sale's coupons take off each line; then, once the sale
is written, claims them; a full refund gives them back. Rules:

- The member must be the coupon's (a coupon is never used by someone else, nor on a sale without a
  member); the coupon must be issued (not used, not voided), inside its validity, at one of its stores,
  in one of its channels (store, online), for one of its tiers (the member's tier now).
- A sale takes one coupon, unless every coupon on it stacks (the template says so).
- Only the eligible lines count (the template's categories; none listed: every line). The minimum
  spend is compared with what those lines cost after the tier discount (before any coupon).
- What each kind takes off, from the eligible lines, in the order the codes were given:
    amount off above a threshold, amount off: the amount, at most what the lines still cost;
    percent off: the percent of what the lines still cost, rounded to the cent, at most the cap;
    gift / exchange: one unit of the most valuable eligible line (the gift rung up at the till),
    at most the template's gift value.
  The amount is shared over the eligible lines in proportion to what each still costs, to the cent,
  so per-line net amounts (what refunds return and points are earned on) add up to the sale.
- Claiming is a conditional UPDATE (issued → used) whose row count is checked: of twenty tills racing
  for one coupon one wins, and the others' sales roll back whole with coupon_used.
- A full refund gives the coupons back if they are still valid; an expired coupon stays used.
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db.models import Case, DecimalField, OuterRef, Subquery, Value, When
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from campaigns.codes import normalize_coupon_code
from campaigns.eligibility import CouponConditions
from campaigns.models import Coupon, CouponTemplate
from loyalty.models import MemberStats, Sale, Tier
from members.models import Member
from stores.models import Store

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _yuan(value: Decimal) -> str:
    return number_format(value, decimal_pos=2, force_grouping=True)


def _refusal(message: str, code: str, /, **params) -> ValidationError:
    return ValidationError({"coupon": ValidationError(message, code=code, params=params or None)})


def _listed(items) -> str:
    return pgettext("list separator", ", ").join(str(item) for item in items)


@dataclass
class CouponPlan:
    """What the sale's coupons take off: per line, and per coupon (for Coupon.discount)."""

    member_id: int
    codes: tuple[str, ...]
    line_discounts: list[Decimal]
    coupon_discounts: dict[int, Decimal] = field(default_factory=dict)


def _line_inputs(lines) -> list[tuple[str, Decimal]]:
    return [(line.category, Decimal(line.quantity)) for line in lines]


def _allocate(amount: Decimal, room: list[Decimal]) -> list[Decimal]:
    """Share `amount` (at most sum(room)) over lines in proportion to their room, to the cent, never
    more than a line's room; the cents rounding leaves go to the lines with the most room."""
    total = sum(room, ZERO)
    if amount <= 0 or total <= 0:
        return [ZERO] * len(room)
    parts = [(amount * r / total).quantize(CENT, rounding=ROUND_DOWN) for r in room]
    left = amount - sum(parts, ZERO)
    for i in sorted(range(len(room)), key=lambda i: room[i], reverse=True):
        if left <= 0:
            break
        step = min(left, room[i] - parts[i])
        parts[i] += step
        left -= step
    return parts


def _check_coupon(
    coupon: Coupon | None,
    *,
    code: str,
    member: Member,
    store: Store,
    channel: str,
    now: datetime,
    conditions: CouponConditions | None,
    member_tier_id: int | None,
) -> None:
    if coupon is None:
        raise _refusal(_("There is no coupon with the code %(code)s."), "coupon_not_found", code=code)
    if coupon.member_id != member.pk:
        # Nothing about the coupon or its owner: a code read off someone else's phone tells nothing.
        raise _refusal(_("Coupon %(code)s belongs to another member."), "coupon_not_yours", code=code)
    if coupon.status == Coupon.Status.USED:
        raise _refusal(_("Coupon %(code)s has already been used."), "coupon_used", code=code)
    if coupon.status == Coupon.Status.VOID:
        raise _refusal(_("Coupon %(code)s has been voided by HQ."), "coupon_void", code=code)
    if coupon.valid_from > now:
        raise _refusal(
            _("Coupon %(code)s can be used from %(start)s."),
            "coupon_not_yet_valid",
            code=code,
            start=timezone.localtime(coupon.valid_from).strftime("%Y-%m-%d %H:%M"),
        )
    if coupon.valid_until <= now:
        raise _refusal(
            _("Coupon %(code)s expired on %(end)s."),
            "coupon_expired",
            code=code,
            end=timezone.localtime(coupon.valid_until).strftime("%Y-%m-%d %H:%M"),
        )
    template = coupon.template
    # Who may use it where: campaigns.eligibility, which the issues ask of their audience too.
    conditions = conditions or CouponConditions.of(template)
    if not conditions.allows_store(store.pk):
        codes = Store.objects.filter(pk__in=conditions.store_ids).order_by("code").values_list("code", flat=True)[:10]
        raise _refusal(
            _("Coupon %(code)s cannot be used at this store; only at %(stores)s."),
            "coupon_wrong_store",
            code=code,
            stores=_listed(codes),
        )
    if not conditions.allows_channel(channel):
        names = [str(Sale.Channel(c).label) for c in template.channels if c in Sale.Channel.values]
        raise _refusal(
            _("Coupon %(code)s cannot be used here; only %(channels)s."),
            "coupon_wrong_channel",
            code=code,
            channels=_listed(names),
        )
    if not conditions.allows_tier(member_tier_id):
        names = Tier.objects.filter(pk__in=conditions.tier_ids).order_by("rank").values_list("name", flat=True)
        raise _refusal(
            _("Coupon %(code)s is for members of %(tiers)s only."),
            "coupon_wrong_tier",
            code=code,
            tiers=_listed(names),
        )


def _discount_of(
    template: CouponTemplate, *, code: str, eligible: list[int], line_dues: list[Decimal], remaining, quantities
) -> list[Decimal]:
    """What one coupon takes off each line, given what the lines still cost (`remaining`)."""
    parts = [ZERO] * len(line_dues)
    if not eligible:
        raise _refusal(
            _("Coupon %(code)s is for %(categories)s; there is none on this sale."),
            "coupon_no_eligible_lines",
            code=code,
            categories=_listed(template.categories),
        )
    base = sum((line_dues[i] for i in eligible), ZERO)
    if template.threshold and base < template.threshold:
        raise _refusal(
            _("Coupon %(code)s needs ¥%(threshold)s of eligible goods; this sale has ¥%(amount)s."),
            "coupon_below_threshold",
            code=code,
            threshold=_yuan(template.threshold),
            amount=_yuan(base),
        )
    room = [remaining[i] for i in eligible]
    left = sum(room, ZERO)
    kind = template.kind
    if kind == CouponTemplate.Kind.GIFT:
        # The gift is a line the till rang up: one unit of it (the most valuable, if several qualify) is free.
        def unit(i: int) -> Decimal:
            return min(remaining[i], _money(line_dues[i] / quantities[i]) if quantities[i] > 1 else line_dues[i])

        best = max(eligible, key=lambda i: (unit(i), -i))
        parts[best] = min(unit(best), template.gift_value)
    else:
        if kind == CouponTemplate.Kind.PERCENT_OFF:
            wanted = _money(left * template.percent_off / 100)
            if template.max_discount is not None:
                wanted = min(wanted, template.max_discount)
        else:
            wanted = template.amount
        for i, part in zip(eligible, _allocate(min(wanted, left), room), strict=True):
            parts[i] = part
    if sum(parts, ZERO) <= 0:
        raise _refusal(
            _("Coupon %(code)s has nothing left to take off on this sale."), "coupon_nothing_to_discount", code=code
        )
    return parts


def coupon_plan(
    *,
    codes: list[str],
    member: Member | None,
    store: Store,
    channel: str,
    lines,
    line_dues: list[Decimal],
    now: datetime,
) -> CouponPlan:
    """Check the sale's coupons and work out what they take off (ValidationError on field "coupon" with
    the first reason one does not apply). Three queries: the coupons with their templates and the
    member's tier, the templates' tiers and stores, and nothing else unless a refusal names them."""
    normalized = list(dict.fromkeys(normalize_coupon_code(code) for code in codes))
    if member is None:
        raise _refusal(
            _("A coupon can only be used on a sale to the member it was issued to: add the member."),
            "coupon_no_member",
        )
    coupons = {
        coupon.code: coupon
        for coupon in Coupon.objects.filter(code__in=normalized)
        .select_related("template")
        .annotate(
            member_tier_id=Subquery(MemberStats.objects.filter(member_id=OuterRef("member_id")).values("tier_id")[:1])
        )
    }
    conditions = CouponConditions.of_templates([c.template for c in coupons.values() if c.member_id == member.pk])
    for code in normalized:
        coupon = coupons.get(code)
        _check_coupon(
            coupon,
            code=code,
            member=member,
            store=store,
            channel=channel,
            now=now,
            conditions=conditions.get(coupon.template_id) if coupon else None,
            member_tier_id=coupon.member_tier_id if coupon else None,
        )
    if len(normalized) > 1:
        for code in normalized:
            if not coupons[code].template.stackable:
                raise _refusal(
                    _("Coupon %(code)s does not combine with other coupons: use it on its own."),
                    "coupon_not_stackable",
                    code=code,
                )
    inputs = _line_inputs(lines)
    quantities = [quantity for _category, quantity in inputs]
    remaining = list(line_dues)
    totals = [ZERO] * len(line_dues)
    per_coupon: dict[int, Decimal] = {}
    for code in normalized:
        coupon = coupons[code]
        template = coupon.template
        categories = set(template.categories or [])
        eligible = [i for i, (category, _q) in enumerate(inputs) if not categories or category in categories]
        parts = _discount_of(
            template, code=code, eligible=eligible, line_dues=line_dues, remaining=remaining, quantities=quantities
        )
        for i, part in enumerate(parts):
            remaining[i] -= part
            totals[i] += part
        per_coupon[coupon.pk] = sum(parts, ZERO)
    return CouponPlan(member_id=member.pk, codes=tuple(normalized), line_discounts=totals, coupon_discounts=per_coupon)


def coupons_claim(*, plan: CouponPlan, sale: Sale, now: datetime) -> None:
    """Mark the plan's coupons used by `sale` in one conditional UPDATE; if any was used (or voided,
    or expired) meanwhile, raise coupon_used so that the whole sale rolls back."""
    discounts = plan.coupon_discounts
    if not discounts:
        return
    ids = list(discounts)
    if len(ids) == 1:
        discount = Value(discounts[ids[0]], output_field=DecimalField(max_digits=12, decimal_places=2))
    else:
        discount = Case(
            *(When(pk=pk, then=Value(amount)) for pk, amount in discounts.items()),
            output_field=DecimalField(max_digits=12, decimal_places=2),
        )
    claimed = Coupon.objects.filter(
        pk__in=ids, member_id=plan.member_id, status=Coupon.Status.ISSUED, valid_from__lte=now, valid_until__gt=now
    ).update(status=Coupon.Status.USED, sale=sale, used_at=now, discount=discount)
    if claimed != len(ids):
        raise _refusal(
            _("A coupon on this sale has just been used on another sale; ring the sale up again without it."),
            "coupon_used",
        )


def coupons_release(*, sale: Sale, now: datetime | None = None) -> int:
    """After a full refund: the sale's coupons are usable again, those still within their validity."""
    now = now or timezone.now()
    return Coupon.objects.filter(sale=sale, status=Coupon.Status.USED, valid_until__gt=now).update(
        status=Coupon.Status.ISSUED, sale=None, used_at=None, discount=ZERO
    )


class CouponRedemption:
    """loyalty.services.checkout.CouponApplier, backed by the functions above.

    Checkout calls discount() and then, in the same transaction and thread, redeem(): the plan worked
    out by the first is kept for the second (per thread, so concurrent requests never see each other's),
    and worked out again from the sale if it is missing.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def discount(
        self,
        *,
        codes: list[str],
        member: Member | None,
        store: Store,
        channel: str,
        lines,
        line_dues: list[Decimal],
        now: datetime,
    ) -> list[Decimal]:
        plan = coupon_plan(
            codes=codes, member=member, store=store, channel=channel, lines=lines, line_dues=line_dues, now=now
        )
        self._local.plan = (plan, now)
        return plan.line_discounts

    def redeem(self, *, codes: list[str], sale: Sale, line_discounts: list[Decimal]) -> None:
        kept = getattr(self._local, "plan", None)
        self._local.plan = None
        normalized = tuple(dict.fromkeys(normalize_coupon_code(code) for code in codes))
        if kept is not None and kept[0].codes == normalized and kept[0].member_id == sale.member_id:
            plan, now = kept
        else:
            plan, now = self._plan_from_sale(codes=codes, sale=sale, line_discounts=line_discounts), timezone.now()
        coupons_claim(plan=plan, sale=sale, now=now)

    def release(self, *, sale: Sale) -> None:
        coupons_release(sale=sale)

    @staticmethod
    def _plan_from_sale(*, codes: list[str], sale: Sale, line_discounts: list[Decimal]) -> CouponPlan:
        lines = list(sale.lines.all())
        line_dues = [line.net_amount + part for line, part in zip(lines, line_discounts, strict=True)]
        return coupon_plan(
            codes=codes,
            member=sale.member,
            store=sale.store,
            channel=sale.channel,
            lines=lines,
            line_dues=line_dues,
            now=timezone.now(),
        )
