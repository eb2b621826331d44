"""The browser's own date and time controls, for every form of the back office and the tablet.

<input type="date">, type="time" and type="datetime-local" read and send ISO 8601 only, whatever the
page's language. Django's DateInput and friends render the language's first input format instead
(1988/01/04 in Chinese), which such a control shows as empty and submits as nothing: saving a form
unchanged erased its dates. These widgets always render ISO, and the form fields read ISO in every
language (Django adds the ISO input formats to each language's own). tests/config/test_date_inputs.py
keeps every form of the project on them.
"""

import datetime

from django import forms
from django.utils import timezone


def _iso_time(value: datetime.time | datetime.datetime) -> str:
    # Minutes when there are no seconds (the control then shows HH:MM); the seconds when there are,
    # so that saving unchanged keeps them. Django drops microseconds before the widget sees the value.
    return value.isoformat(timespec="seconds" if value.second else "minutes")


class _IsoInputMixin:
    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        shown = widget["value"] or ""
        if self.input_type != "date" and shown.count(":") == 2 and "step" not in widget["attrs"]:
            # Without a step of one second the browser holds a value with seconds invalid and
            # refuses to submit the form.
            widget["attrs"]["step"] = "1"
        return context


class IsoDateInput(_IsoInputMixin, forms.DateInput):
    input_type = "date"

    def format_value(self, value):
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, datetime.date):
            return value.isoformat()
        return super().format_value(value)


class IsoTimeInput(_IsoInputMixin, forms.TimeInput):
    input_type = "time"

    def format_value(self, value):
        if isinstance(value, datetime.time):
            return _iso_time(value.replace(tzinfo=None))
        return super().format_value(value)


class IsoDateTimeInput(_IsoInputMixin, forms.DateTimeInput):
    input_type = "datetime-local"

    def format_value(self, value):
        if isinstance(value, datetime.datetime):
            if timezone.is_aware(value):
                value = timezone.make_naive(value)
            return _iso_time(value)
        return super().format_value(value)
