"""Campaigns' sections of the member's 360 page: coupons, and the campaigns and messages the member
received (members.member360 explains the registry)."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Coupon, Message
from campaigns.selectors.campaigns import member_campaign_messages, member_campaigns_received
from campaigns.selectors.coupons import member_coupon_counts, member_coupons_recent
from campaigns.selectors.messaging import messages_of_member
from members.member360 import RECENT_ROWS, may_view, member_changelist_url, register_section
from members.models import Member

# Coupon.Status has no "expired": an issued coupon past its validity is expired (as the coupon list's filter).
_STATE_LABELS = {
    "usable": _("Usable now"),
    "expired": _("Expired unused"),
    "not_yet": _("Not valid yet"),
    Coupon.Status.USED: _("Used"),
    Coupon.Status.VOID: _("Voided"),
}


def _coupon_state(coupon: Coupon, now) -> str:
    if coupon.status != Coupon.Status.ISSUED:
        return coupon.status
    if coupon.valid_until <= now:
        return "expired"
    return "usable" if coupon.valid_from <= now else "not_yet"


def coupons_section(member: Member, request) -> dict:
    now = timezone.now()
    coupons = member_coupons_recent(member.pk, limit=RECENT_ROWS)
    rows = []
    for coupon in coupons:
        state = _coupon_state(coupon, now)
        rows.append({"coupon": coupon, "state": state, "state_label": _STATE_LABELS[state]})
    return {
        "rows": rows,
        "counts": member_coupon_counts(member.pk, now=now) if coupons else {},
        "can_open_coupons": may_view(request, Coupon),
        "see_all_url": member_changelist_url(request, Coupon, member) if coupons else None,
    }


def campaigns_section(member: Member, request) -> dict:
    received = member_campaigns_received(member.pk, limit=RECENT_ROWS)
    messages = member_campaign_messages(member.pk, [row.campaign_id for row in received]) if received else {}
    recent = list(messages_of_member(member.pk)[:RECENT_ROWS])
    return {
        "campaigns": [{"row": row, "messages": messages.get(row.campaign_id, [])} for row in received],
        "messages": recent,
        "can_open_campaigns": may_view(request, Campaign),
        "can_open_messages": may_view(request, Message),
        "messages_url": member_changelist_url(request, Message, member) if recent else None,
    }


def register() -> None:
    register_section(
        "coupons",
        order=40,
        title=_("Coupons"),
        template="admin/campaigns/member360/coupons.html",
        loader=coupons_section,
        wide=True,
    )
    register_section(
        "campaigns",
        order=80,
        title=_("Campaigns received"),
        template="admin/campaigns/member360/campaigns.html",
        loader=campaigns_section,
        wide=True,
    )
