"""Who is held out of a campaign or an automation: a hash of (owner, member), so the same members every
run, in every process and on every database, without storing a draw."""

import hashlib
from decimal import Decimal

BUCKETS = 10_000  # hundredths of a percent


def held_out(owner: str, owner_id: int, member_id: int, percent: Decimal | int | str | None) -> bool:
    percent = Decimal(percent or 0)
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{owner}:{owner_id}:member:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS < percent * (BUCKETS // 100)
