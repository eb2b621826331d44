"""Reads of the campaigns app, one module per feature: coupons and the points mall, messaging, …"""

from campaigns.selectors.coupons import (
    USABLE_COUPONS_PER_MEMBER,
    MallOffer,
    MallShopper,
    coupon_by_code,
    coupon_counts_by_status,
    coupon_list,
    coupon_template_by_id,
    coupon_templates_to_issue,
    mall_item_by_id,
    mall_items_admin,
    mall_offers,
    mall_order_by_id,
    mall_orders,
    mall_refusal,
    mall_shopper,
    usable_coupons,
)

__all__ = [
    "USABLE_COUPONS_PER_MEMBER",
    "MallOffer",
    "MallShopper",
    "coupon_by_code",
    "coupon_counts_by_status",
    "coupon_list",
    "coupon_template_by_id",
    "coupon_templates_to_issue",
    "mall_item_by_id",
    "mall_items_admin",
    "mall_offers",
    "mall_order_by_id",
    "mall_orders",
    "mall_refusal",
    "mall_shopper",
    "usable_coupons",
]
