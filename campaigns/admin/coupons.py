"""Coupons in the back office."""
