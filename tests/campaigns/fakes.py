"""Backends that stand in for providers in tests (DESIGN §8: mocks only at true external boundaries).

Set e.g. settings.MESSAGE_SMS_BACKEND = "tests.campaigns.fakes.RecordingBackend". Backends are built once
per process and setting, so what they record lives at module level; the `fake_provider` fixture empties it.
"""

import threading
import time

from campaigns.messaging.backends import PermanentFailure, TemporaryFailure

SENT: list = []
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        SENT.clear()


class RecordingBackend:
    """Accepts everything; records each message it was given (thread-safe), after `delay` seconds."""

    delay = 0.0

    def send(self, message) -> str:
        if self.delay:
            time.sleep(self.delay)
        with _lock:
            SENT.append(message)
        return f"fake-{message.id}"


class SlowRecordingBackend(RecordingBackend):
    delay = 0.005


class BusyBackend:
    """The provider is overloaded: try later."""

    def send(self, message) -> str:
        with _lock:
            SENT.append(message)
        raise TemporaryFailure("provider busy (503)")


class RejectingBackend:
    """The provider refuses the number for good."""

    def send(self, message) -> str:
        with _lock:
            SENT.append(message)
        raise PermanentFailure("invalid number")


class BrokenBackend:
    """An adapter with a bug."""

    def send(self, message) -> str:
        with _lock:
            SENT.append(message)
        raise KeyError("access_token")
