"""Automations in the back office."""
