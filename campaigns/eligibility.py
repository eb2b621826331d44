"""Who can use a coupon template's coupons: the one statement of the rule, for the till and for an audience.

Checkout (campaigns.services.redemption) asks it of one coupon at one sale; a campaign's page, its launch,
the automations, the staff's issue page and POST /api/v1/coupons/ ask it of a set of members before
issuing, so that nobody is sent a coupon they can never use (issue 15). Both read the same
CouponConditions: `allows_tier` / `allows_store` / `allows_channel` for one sale, `member_filter` for a
set of members, side by side below so they cannot drift apart (tests/campaigns/test_coupon_eligibility.py
checks that they agree).

What each condition means for an audience:
- tiers: the member's tier now must be one of them (none listed: any tier, or none). This is the
  condition that excludes members.
- stores: the sale's store must be one of them. Every member may shop at any store of the chain, so a
  store limit excludes no member; only a template none of whose stores is open excludes everyone.
- channels: the sale's channel must be one of them. Every member can buy in store and online (the mall,
  the mini-program), so this excludes nobody either, unless the template lists no channel a sale can have.
"""

from dataclasses import dataclass

from django.db.models import CharField, Q, QuerySet, Value
from django.utils.translation import gettext as _

from campaigns.models import CouponTemplate
from loyalty.models import Sale
from members.models import Member
from stores.models import Store

TIER = "tier"
STORE = "store"
CHANNEL = "channel"


@dataclass(frozen=True)
class CouponConditions:
    tier_ids: frozenset[int]
    store_ids: frozenset[int]
    channels: frozenset[str]

    # --- one sale --------------------------------------------------------------------------------

    def allows_tier(self, tier_id: int | None) -> bool:
        return not self.tier_ids or tier_id in self.tier_ids

    def allows_store(self, store_id: int) -> bool:
        return not self.store_ids or store_id in self.store_ids

    def allows_channel(self, channel: str) -> bool:
        return not self.channels or channel in self.channels

    # --- a set of members --------------------------------------------------------------------------

    def member_filter(self) -> Q | None:
        """The members whose tier allows the coupon (allows_tier in SQL, over MemberStats); None: all."""
        if not self.tier_ids:
            return None
        return Q(stats__tier_id__in=sorted(self.tier_ids))

    def nobody_reason(self) -> str:
        """STORE or CHANNEL when no member at all could use the coupon anywhere, else ""."""
        if self.channels and not any(self.allows_channel(c) for c in Sale.Channel.values):
            return CHANNEL
        if self.store_ids and not Store.objects.filter(pk__in=self.store_ids, is_active=True).exists():
            return STORE
        return ""

    # --- loading ---------------------------------------------------------------------------------

    @classmethod
    def of(cls, template: CouponTemplate) -> "CouponConditions":
        return cls.of_templates([template])[template.pk]

    @classmethod
    def of_templates(cls, templates: list[CouponTemplate]) -> dict[int, "CouponConditions"]:
        """Each template's conditions, its tiers and stores read in one query for all of them."""
        ids = sorted({t.pk for t in templates})
        found: dict[int, dict[str, set[int]]] = {pk: {TIER: set(), STORE: set()} for pk in ids}
        if ids:
            tiers = CouponTemplate.tiers.through.objects.filter(coupontemplate_id__in=ids)
            stores = CouponTemplate.stores.through.objects.filter(coupontemplate_id__in=ids)
            rows = tiers.values_list("coupontemplate_id", "tier_id", Value(TIER, output_field=CharField())).union(
                stores.values_list("coupontemplate_id", "store_id", Value(STORE, output_field=CharField())),
                all=True,
            )
            for template_id, other_id, kind in rows:
                found[template_id][kind].add(other_id)
        return {
            t.pk: cls(
                tier_ids=frozenset(found[t.pk][TIER]),
                store_ids=frozenset(found[t.pk][STORE]),
                channels=frozenset(t.channels or ()),
            )
            for t in templates
        }


def audience_of(members: QuerySet[Member]) -> QuerySet[Member]:
    """`members` as a queryset that can be filtered further (a "top N" segment is sliced, and a sliced
    query cannot be)."""
    if members.query.is_sliced:
        return Member.objects.filter(pk__in=members.values("pk"))
    return members


def members_who_can_use(
    template: CouponTemplate, members: QuerySet[Member], *, conditions: CouponConditions | None = None
) -> QuerySet[Member]:
    """Those of `members` who can use coupons of `template`: one filter, whatever their number. What a
    launch issues to and what its page counts."""
    conditions = conditions or CouponConditions.of(template)
    if conditions.nobody_reason():
        return Member.objects.none()
    condition = conditions.member_filter()
    members = audience_of(members)
    return members if condition is None else members.filter(condition)


def nobody_message(template: CouponTemplate, reason: str) -> str:
    if reason == STORE:
        return _("None of the stores where “%(name)s” can be used is open.") % {"name": template.name}
    return _("“%(name)s” lists no channel a sale can have (in store, online).") % {"name": template.name}
