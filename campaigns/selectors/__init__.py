"""Reads of the campaigns app, one module per feature (messaging, …)."""
