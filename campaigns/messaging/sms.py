"""SMS through a provider: the adapter interface, and an example adapter for a JSON-over-HTTPS gateway.

To connect a provider (Aliyun, Tencent Cloud, a carrier's gateway …), write an adapter with one method,

    class MyProvider:
        def send_sms(self, *, phone: str, text: str, reference: str) -> str:
            ...  # call the provider; answer its message id

where `phone` is E.164 (+8613812345678), `text` the whole rendered SMS (the provider adds the
signature 【品牌】 if it works that way) and `reference` unique per outbox message (send it as the
provider's client reference / out id where there is one). Raise
campaigns.messaging.backends.TemporaryFailure for what may work later (timeouts, 5xx, rate limits) and
PermanentFailure for what never will (an invalid or blacklisted number, a rejected text). Then wrap it:

    class MyProviderBackend(SmsBackend):
        def __init__(self):
            super().__init__(MyProvider(...settings...))

and set MESSAGE_SMS_BACKEND=myapp.sms.MyProviderBackend. The outbox does the rest: claims, retries
with backoff, statuses, quiet hours, consent.

HttpSmsGateway below is such an adapter for a generic gateway; its HTTP call is a function passed in
(`post`), the standard library's by default, so it is tested with a fake and needs no HTTP library.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from campaigns.messaging.backends import OutgoingMessage, PermanentFailure, TemporaryFailure


class SmsProvider(Protocol):
    def send_sms(self, *, phone: str, text: str, reference: str) -> str: ...


class SmsBackend:
    """An outbox backend for the SMS channel on top of a provider adapter."""

    channels = ("sms",)

    def __init__(self, provider: SmsProvider):
        self.provider = provider

    def send(self, message: OutgoingMessage) -> str:
        if not message.recipient.startswith("+"):
            raise PermanentFailure(f"not an E.164 phone number: {message.recipient!r}")
        return self.provider.send_sms(phone=message.recipient, text=message.body, reference=message.reference)


# post(url, body, headers, timeout) → (HTTP status, response body); raises OSError when no answer came.
HttpPost = Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]


def urllib_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(64 * 1024)
    except urllib.error.HTTPError as error:
        return error.code, error.read(64 * 1024)


class HttpSmsGateway:
    """An example adapter: a gateway that takes

        POST <url>   Authorization: Bearer <token>
        {"phone": "+8613812345678", "text": "…", "sign": "品牌", "out_id": "msg-123"}

    and answers 200 {"code": "OK", "message_id": "…"}, or an error {"code": "…", "message": "…"}. Codes
    the gateway uses for "try later" (RATE_LIMITED, BUSY), a 429 or a 5xx are temporary; any other
    refusal is permanent. A gateway of another shape needs its own adapter, written the same way.
    """

    TEMPORARY_CODES = frozenset({"RATE_LIMITED", "BUSY", "THROTTLED"})

    def __init__(self, *, url: str, token: str, signature: str = "", post: HttpPost = urllib_post, timeout=10.0):
        self.url = url
        self.token = token
        self.signature = signature
        self.post = post
        self.timeout = timeout

    def send_sms(self, *, phone: str, text: str, reference: str) -> str:
        payload = {"phone": phone, "text": text, "sign": self.signature, "out_id": reference}
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }
        try:
            status, raw = self.post(self.url, json.dumps(payload, ensure_ascii=False).encode(), headers, self.timeout)
        except (OSError, TimeoutError) as error:
            raise TemporaryFailure(f"no answer from the SMS gateway: {error}") from error
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        code = str(answer.get("code") or "")
        detail = str(answer.get("message") or code or f"HTTP {status}")[:200]
        if status == 429 or status >= 500 or code in self.TEMPORARY_CODES:
            raise TemporaryFailure(f"SMS gateway {status}: {detail}")
        if 200 <= status < 300 and code == "OK" and answer.get("message_id"):
            return str(answer["message_id"])[:64]
        raise PermanentFailure(f"SMS gateway {status}: {detail}")


class HttpSmsGatewayBackend(SmsBackend):
    """MESSAGE_SMS_BACKEND=sms-gateway: HttpSmsGateway configured by MESSAGE_SMS_GATEWAY_URL,
    MESSAGE_SMS_GATEWAY_TOKEN and MESSAGE_SMS_SIGNATURE."""

    def __init__(self):
        if not settings.MESSAGE_SMS_GATEWAY_URL:
            raise ImproperlyConfigured("MESSAGE_SMS_BACKEND=sms-gateway needs MESSAGE_SMS_GATEWAY_URL")
        super().__init__(
            HttpSmsGateway(
                url=settings.MESSAGE_SMS_GATEWAY_URL,
                token=settings.MESSAGE_SMS_GATEWAY_TOKEN,
                signature=settings.MESSAGE_SMS_SIGNATURE,
            )
        )
