"""How the outbox hands a message to the world: one backend per channel, chosen by settings.

A backend is any object with

    send(message: OutgoingMessage) -> str

that delivers one message and answers the provider's id for it (kept on the outbox row, for support
and delivery reports), or raises

- TemporaryFailure: worth trying again later (a timeout, a 5xx, a rate limit); the outbox retries
  with backoff up to MESSAGE_MAX_ATTEMPTS, then gives up;
- PermanentFailure: will never work (a refused number or address, a rejected template); the message
  fails at once.

Any other exception counts as temporary (and is logged): a bug in an adapter should not lose messages.
`message.reference` ("msg-123") is unique per message: pass it to providers that accept a client
reference, so that their delivery reports and deduplication line up with the outbox.

Settings (read from the environment, config/settings.py): MESSAGE_SMS_BACKEND, MESSAGE_EMAIL_BACKEND,
MESSAGE_WECHAT_BACKEND, each a name below or the dotted path of a class taking no arguments:

- "file": a JSON line per message appended to MESSAGE_FILE_PATH (the embedded default, and tests);
- "console": a line per message on standard output;
- "email": Django's mail (EMAIL_URL, DEFAULT_FROM_EMAIL), for the email channel;
- "sms-gateway": the example SMS adapter (campaigns.messaging.sms), for the SMS channel.

A WeChat integration provides its own backend (the recipient is the member's openid, resolved through
campaigns.messaging.addresses; `message.wechat_template_id` names the official account's template).
"""

import json
import logging
import smtplib
import sys
from dataclasses import asdict, dataclass
from email.utils import make_msgid
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import BadHeaderError, EmailMessage, get_connection
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

try:  # POSIX: writers on several processes append whole lines to the outbox file
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl; the embedded mode has one worker there
    fcntl = None


class SendFailure(Exception):
    """A backend could not send; the message says why (kept, cut to 255 characters, as the last error)."""


class TemporaryFailure(SendFailure):
    pass


class PermanentFailure(SendFailure):
    pass


@dataclass(frozen=True)
class OutgoingMessage:
    """What a backend gets: the rendered message and where it goes."""

    id: int
    key: str
    channel: str
    recipient: str
    subject: str
    body: str
    purpose: str
    wechat_template_id: str = ""

    @property
    def reference(self) -> str:
        return f"msg-{self.id}"


class MessageBackend(Protocol):
    def send(self, message: OutgoingMessage) -> str: ...


# --- file and console: the embedded mode and tests ----------------------------------------------


def _as_json(message: OutgoingMessage) -> dict:
    return {**asdict(message), "reference": message.reference, "at": timezone.now().isoformat()}


class FileBackend:
    """Appends each message as one JSON line to MESSAGE_FILE_PATH (created with its folder)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None

    def send(self, message: OutgoingMessage) -> str:
        path = self.path or Path(settings.MESSAGE_FILE_PATH)
        line = json.dumps(_as_json(message), ensure_ascii=False) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as file:
                if fcntl is not None:
                    fcntl.flock(file, fcntl.LOCK_EX)
                file.write(line)
                file.flush()
        except OSError as error:
            raise TemporaryFailure(f"cannot write {path}: {error}") from error
        return message.reference


class ConsoleBackend:
    """Prints each message on standard output (a worker's log)."""

    def __init__(self, stream=None):
        self.stream = stream

    def send(self, message: OutgoingMessage) -> str:
        stream = self.stream or sys.stdout
        subject = f" [{message.subject}]" if message.subject else ""
        stream.write(f"[{message.channel} {message.reference}] to {message.recipient}{subject}: {message.body}\n")
        stream.flush()
        return message.reference


# --- email through Django's mail ----------------------------------------------------------------


class EmailBackend:
    """Sends email through Django's mail (EMAIL_URL; tests use its locmem outbox).

    The provider id is the Message-ID it gives each email. SMTP answers in 4xx, lost connections and
    timeouts are temporary; refused recipients, 5xx answers and malformed headers are permanent.
    """

    channels = ("email",)

    def __init__(self, connection=None):
        self.connection = connection

    def send(self, message: OutgoingMessage) -> str:
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "localhost"
        message_id = make_msgid(idstring=message.reference, domain=domain[:40])
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.recipient],
            headers={"Message-ID": message_id},
            connection=self.connection or get_connection(fail_silently=False),
        )
        try:
            sent = email.send(fail_silently=False)
        except (BadHeaderError, ValueError, smtplib.SMTPRecipientsRefused) as error:
            raise PermanentFailure(f"{type(error).__name__}: {error}") from error
        except smtplib.SMTPResponseException as error:
            failure = TemporaryFailure if 400 <= error.smtp_code < 500 else PermanentFailure
            raise failure(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
        except (smtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
        if not sent:
            raise TemporaryFailure("the mail backend sent nothing")
        return message_id[:64]


# --- choosing a backend -------------------------------------------------------------------------

ALIASES = {
    "file": "campaigns.messaging.backends.FileBackend",
    "console": "campaigns.messaging.backends.ConsoleBackend",
    "email": "campaigns.messaging.backends.EmailBackend",
    "sms-gateway": "campaigns.messaging.sms.HttpSmsGatewayBackend",
}

SETTING_BY_CHANNEL = {
    "sms": "MESSAGE_SMS_BACKEND",
    "email": "MESSAGE_EMAIL_BACKEND",
    "wechat": "MESSAGE_WECHAT_BACKEND",
}


def backend_path(channel: str) -> str:
    name = getattr(settings, SETTING_BY_CHANNEL[channel], "file") or "file"
    return ALIASES.get(name, name)


@lru_cache(maxsize=16)
def _backend(channel: str, path: str) -> MessageBackend:
    try:
        backend_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"{SETTING_BY_CHANNEL[channel]}: cannot import {path!r} ({error})") from error
    channels = getattr(backend_class, "channels", None)
    if channels is not None and channel not in channels:
        raise ImproperlyConfigured(f"{SETTING_BY_CHANNEL[channel]}: {path} sends {', '.join(channels)} only")
    return backend_class()


def backend_for(channel: str) -> MessageBackend:
    """The backend of a channel as the settings say now (one instance per process and setting)."""
    return _backend(channel, backend_path(channel))
