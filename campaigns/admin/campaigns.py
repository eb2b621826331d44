"""Campaigns in the back office."""
