"""Campaigns' part of a member's data file (members.data_access): coupons, messages and points-mall orders."""

from campaigns.models import Coupon, MallOrder, Message
from members.data_access import _labelled, register_member_data, rows
from members.models import Member


def _coupons(member: Member) -> list[dict]:
    coupons = rows(
        Coupon.objects.filter(member=member).order_by("issued_at", "id"),
        ["code", "template__name", "status", "source", "valid_from", "valid_until", "issued_at", "used_at", "sale_id"],
    )
    return _labelled(Coupon, _labelled(Coupon, coupons, "status"), "source")


def _messages(member: Member) -> list[dict]:
    messages = rows(
        Message.objects.filter(member=member).order_by("created_at", "id"),
        ["created_at", "channel", "purpose", "recipient", "subject", "body", "status", "sent_at"],
    )
    return _labelled(Message, _labelled(Message, messages, "status"), "channel")


def _mall_orders(member: Member) -> list[dict]:
    orders = rows(
        MallOrder.objects.filter(member=member).order_by("created_at", "id"),
        ["created_at", "item__name", "points", "status", "store__code", "handed_over_at"],
    )
    return _labelled(MallOrder, orders, "status")


def register() -> None:
    register_member_data("coupons", _coupons)
    register_member_data("messages", _messages)
    register_member_data("mall_orders", _mall_orders)
