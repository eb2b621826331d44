"""Writes of the loyalty app. Import the functions from here."""

from loyalty.services.adjustments import points_adjust
from loyalty.services.behaviour import points_behaviour_event, points_profile_completed, points_sign_in
from loyalty.services.birthday import points_birthday_pay_due
from loyalty.services.checkout import (
    LineInput,
    SaleQuote,
    TenderInput,
    register_after_sale_hook,
    register_coupon_applier,
    sale_checkout,
    sale_quote,
)
from loyalty.services.jobs import points_expire_due, points_unlock_due
from loyalty.services.refunds import RefundLineInput, sale_refund, sale_refund_refusal
from loyalty.services.review import sale_review_resolve
from loyalty.services.tiers import tiers_evaluate
from loyalty.services.wallet import wallet_refund_principal, wallet_top_up

__all__ = [
    "LineInput",
    "RefundLineInput",
    "SaleQuote",
    "TenderInput",
    "points_adjust",
    "points_behaviour_event",
    "points_birthday_pay_due",
    "points_expire_due",
    "points_profile_completed",
    "points_sign_in",
    "points_unlock_due",
    "register_after_sale_hook",
    "register_coupon_applier",
    "sale_checkout",
    "sale_quote",
    "sale_refund",
    "sale_refund_refusal",
    "sale_review_resolve",
    "tiers_evaluate",
    "wallet_refund_principal",
    "wallet_top_up",
]
