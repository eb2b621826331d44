"""Segments in the back office."""
