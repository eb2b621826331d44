"""A settable clock for service tests: `django.utils.timezone.now` answers what the test says.

The services read the time through `timezone.now()` (and `timezone.localdate()`, which calls it), and
so do `auto_now_add` fields, so a sale rung up "on 2026-03-15" is stored as made then. Use it as

    @pytest.fixture
    def clock(monkeypatch):
        return Clock(monkeypatch, local(2026, 3, 15))
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment in China's local time (the business day of DESIGN §4, Time)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class Clock:
    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now
