"""Writes of the service cards app: cards (selling, using, managing, refunding), the member's
confirmation code, and appointments."""
