"""No full phone in any log line (DESIGN §10: "whoever gets a backup or a log file").

`PhoneMaskingFilter` sits on every handler of settings.LOGGING and of gunicorn's logging
(config/gunicorn.py), so whatever reaches a log file, a console or a log shipper went through it: the
message with its arguments, the traceback and the stack. A mainland mobile number however it is written
(13912345678, 139 1234 5678, +86 139-1234-5678, 008613912345678, and URL-encoded: %2B8613912345678,
139%201234%205678, 139+1234+5678) keeps its first three and last four digits: 139****5678, as the masked
phones of the product's pages, so a line can still be matched with a member's support request.

The filter formats the record's message itself and drops its arguments: a record that went through it
carries no phone in `args` either, for a handler that would read them.
"""

from __future__ import annotations

import logging
import re
import traceback

# 11 digits of a mainland mobile, after an optional +86 / 0086 / 86, separated by nothing, a space, a
# dash, or their URL encodings; never inside a longer run of digits (a timestamp, an order number), but
# right after a URL escape (%20).
_SEP = r"(?:[\s\-+]|%20|%2[dD])?"
PHONE_PATTERN = re.compile(
    rf"(?<!(?<!%2)\d)((?:(?:\+|%2[bB]|00)?86{_SEP})?)(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)"
)


def mask_phones(text: str) -> str:
    return PHONE_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}****{m.group(4)}", text)


class PhoneMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit its format: log what it has, masked
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_phones(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = mask_phones(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phones(record.stack_info)
        return True


FILTER_NAME = "mask_phones"
FILTERS = {FILTER_NAME: {"()": "config.log_filters.PhoneMaskingFilter"}}


def logging_config(level: str = "INFO") -> dict:
    """settings.LOGGING: Django's own loggers (requests, runserver's access lines) go through the same
    filtered handlers instead of Django's defaults, and the e-mail handler is not used (ADMINS is unset;
    an e-mail would carry the whole request)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": FILTERS,
        "formatters": {
            "django.server": {
                "()": "django.utils.log.ServerFormatter",
                "format": "[{server_time}] {message}",
                "style": "{",
            }
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": [FILTER_NAME]},
            "django.server": {
                "class": "logging.StreamHandler",
                "formatter": "django.server",
                "filters": [FILTER_NAME],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's defaults would add their own unfiltered console and mail handlers.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        },
    }


# gunicorn's access log (config/gunicorn.py): the combined log format, with the request time in µs.
# The request line (%(r)s) and the referer (%(f)s) carry addresses, hence the filter on its handler.
GUNICORN_ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'


def gunicorn_logconfig(level: str = "INFO") -> dict:
    """gunicorn's `logconfig_dict`: its error and access logs through the phone filter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": FILTERS,
        "formatters": {"generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "generic",
                "stream": "ext://sys.stdout",
                "filters": [FILTER_NAME],
            },
            "access": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "filters": [FILTER_NAME]},
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "generic",
                "stream": "ext://sys.stderr",
                "filters": [FILTER_NAME],
            },
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
