"""Mall in the back office."""
