"""Messaging in the back office."""
