"""Quiet hours: a daily period in China's local time in which no message is sent (21:00–09:00).

A period whose start is after its end runs across midnight. A message due inside the period waits
until its end: due at 23:30 with quiet hours 21:00–09:00, it goes at 09:00 the next morning; due at
06:00, at 09:00 the same morning.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def __post_init__(self):
        if self.start == self.end:
            raise ValidationError(_("Quiet hours must end at another time than they start."), code="quiet_hours_empty")

    @classmethod
    def of(cls, value: "QuietHours | tuple[time, time] | None") -> "QuietHours | None":
        if value is None or isinstance(value, QuietHours):
            return value
        start, end = value
        if start is None and end is None:
            return None
        if start is None or end is None:
            raise ValidationError(_("Give both ends of the quiet hours, or neither."), code="quiet_hours_incomplete")
        return cls(start, end)

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def contains(self, moment: datetime) -> bool:
        at = timezone.localtime(moment, timezone.get_default_timezone()).time()
        if self.crosses_midnight:
            return at >= self.start or at < self.end
        return self.start <= at < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` itself outside the period, else the end of the period it falls in."""
        if not self.contains(moment):
            return moment
        local = timezone.localtime(moment, timezone.get_default_timezone())
        day = local.date()
        if self.crosses_midnight and local.time() >= self.start:
            day += timedelta(days=1)
        return timezone.make_aware(datetime.combine(day, self.end), timezone.get_default_timezone())
