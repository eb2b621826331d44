"""The backends: the embedded file and console, Django's mail, and the SMS adapter interface with its
example gateway adapter (its HTTP call faked: the true external boundary)."""

import io
import json
import smtplib

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from campaigns.messaging.backends import (
    ConsoleBackend,
    EmailBackend,
    FileBackend,
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    backend_for,
)
from campaigns.messaging.sms import HttpSmsGateway, HttpSmsGatewayBackend, SmsBackend


def outgoing(**overrides) -> OutgoingMessage:
    values = {
        "id": 42,
        "key": "campaign:1:member:7",
        "channel": "sms",
        "recipient": "+8613800138000",
        "subject": "",
        "body": "王芳您好，春季焕新 回T退订",
        "purpose": "marketing",
    }
    values.update(overrides)
    return OutgoingMessage(**values)


# --- file and console ----------------------------------------------------------------------------


def test_the_file_backend_appends_one_json_line_per_message(tmp_path):
    path = tmp_path / "deep" / "outbox.jsonl"
    backend = FileBackend(path)
    assert backend.send(outgoing()) == "msg-42"
    assert backend.send(outgoing(id=43, body="第二条")) == "msg-43"
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first["body"] == "王芳您好，春季焕新 回T退订"  # Chinese as it is, not \u escapes
    assert "王芳" in path.read_text(encoding="utf-8")
    assert (first["recipient"], first["key"], first["reference"]) == ("+8613800138000", "campaign:1:member:7", "msg-42")
    assert second["id"] == 43


def test_the_file_backend_follows_the_setting(settings, tmp_path):
    settings.MESSAGE_FILE_PATH = tmp_path / "other.jsonl"
    FileBackend().send(outgoing())
    assert (tmp_path / "other.jsonl").exists()


def test_a_file_that_cannot_be_written_is_a_temporary_failure(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(TemporaryFailure):
        FileBackend(blocker / "outbox.jsonl").send(outgoing())


def test_the_console_backend_prints_a_line():
    stream = io.StringIO()
    assert ConsoleBackend(stream).send(outgoing(channel="email", subject="春季焕新")) == "msg-42"
    assert stream.getvalue() == "[email msg-42] to +8613800138000 [春季焕新]: 王芳您好，春季焕新 回T退订\n"


# --- email ---------------------------------------------------------------------------------------


class FailingConnection:
    def __init__(self, error):
        self.error = error

    def send_messages(self, messages):
        raise self.error


@pytest.mark.parametrize(
    "error, failure",
    [
        (smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")}), PermanentFailure),
        (smtplib.SMTPDataError(554, b"rejected as spam"), PermanentFailure),
        (smtplib.SMTPDataError(451, b"try again later"), TemporaryFailure),
        (smtplib.SMTPServerDisconnected("gone"), TemporaryFailure),
        (ConnectionRefusedError(111, "refused"), TemporaryFailure),
        (TimeoutError("timed out"), TemporaryFailure),
    ],
)
def test_smtp_errors_are_temporary_or_permanent_as_smtp_says(error, failure):
    with pytest.raises(failure):
        EmailBackend(FailingConnection(error)).send(outgoing(channel="email", recipient="x@example.com", subject="s"))


def test_a_subject_with_a_newline_is_refused_for_good(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with pytest.raises(PermanentFailure):
        EmailBackend().send(outgoing(channel="email", recipient="x@example.com", subject="a\nBcc: all@example.com"))


# --- SMS: the adapter interface and the example gateway ------------------------------------------


class FakeGateway:
    """The HTTP call HttpSmsGateway is given: records the request, answers what the test says."""

    def __init__(self, status=200, body=b'{"code": "OK", "message_id": "SM-1"}', error=None):
        self.status, self.body, self.error = status, body, error
        self.requests = []

    def __call__(self, url, body, headers, timeout):
        self.requests.append((url, json.loads(body.decode()), headers, timeout))
        if self.error:
            raise self.error
        return self.status, self.body


def gateway(post) -> SmsBackend:
    return SmsBackend(HttpSmsGateway(url="https://sms.example.com/send", token="t0k", signature="好邻居", post=post))


def test_the_gateway_adapter_posts_the_sms_and_answers_the_providers_id():
    post = FakeGateway()
    assert gateway(post).send(outgoing()) == "SM-1"
    [(url, payload, headers, timeout)] = post.requests
    assert url == "https://sms.example.com/send"
    assert payload == {
        "phone": "+8613800138000",
        "text": "王芳您好，春季焕新 回T退订",
        "sign": "好邻居",
        "out_id": "msg-42",
    }
    assert headers["Authorization"] == "Bearer t0k"
    assert timeout == 10.0


@pytest.mark.parametrize(
    "post",
    [
        FakeGateway(status=503, body=b"<html>busy</html>"),
        FakeGateway(status=429, body=b'{"code": "THROTTLED"}'),
        FakeGateway(status=200, body=b'{"code": "RATE_LIMITED", "message": "slow down"}'),
        FakeGateway(error=TimeoutError("read timed out")),
        FakeGateway(error=OSError("connection reset")),
    ],
    ids=["5xx", "429", "rate-limited", "timeout", "reset"],
)
def test_what_may_work_later_is_a_temporary_failure(post):
    with pytest.raises(TemporaryFailure):
        gateway(post).send(outgoing())


@pytest.mark.parametrize(
    "post",
    [
        FakeGateway(status=400, body=b'{"code": "INVALID_PHONE", "message": "bad number"}'),
        FakeGateway(status=200, body=b'{"code": "BLACKLISTED"}'),
        FakeGateway(status=200, body=b"not json"),
        FakeGateway(status=200, body=b'{"code": "OK"}'),  # no message id: cannot be what it says
    ],
    ids=["400", "blacklisted", "not-json", "no-id"],
)
def test_what_never_will_is_a_permanent_failure(post):
    with pytest.raises(PermanentFailure):
        gateway(post).send(outgoing())


def test_the_sms_backend_refuses_what_is_not_a_phone_number():
    with pytest.raises(PermanentFailure):
        gateway(FakeGateway()).send(outgoing(recipient="oAbC123"))


def test_the_gateway_backend_needs_its_url(settings):
    settings.MESSAGE_SMS_GATEWAY_URL = ""
    with pytest.raises(ImproperlyConfigured):
        HttpSmsGatewayBackend()
    settings.MESSAGE_SMS_GATEWAY_URL = "https://sms.example.com/send"
    settings.MESSAGE_SMS_GATEWAY_TOKEN = "secret"
    backend = HttpSmsGatewayBackend()
    assert (backend.provider.url, backend.provider.token) == ("https://sms.example.com/send", "secret")


# --- choosing backends by settings ---------------------------------------------------------------


def test_each_channel_has_the_backend_its_setting_names(settings):
    settings.MESSAGE_SMS_BACKEND = "console"
    settings.MESSAGE_EMAIL_BACKEND = "email"
    settings.MESSAGE_WECHAT_BACKEND = "campaigns.messaging.backends.FileBackend"
    assert isinstance(backend_for("sms"), ConsoleBackend)
    assert isinstance(backend_for("email"), EmailBackend)
    assert isinstance(backend_for("wechat"), FileBackend)


def test_a_backend_for_another_channel_or_that_does_not_load_fails_the_system_check(settings):
    settings.MESSAGE_SMS_BACKEND = "email"
    settings.MESSAGE_WECHAT_BACKEND = "nowhere.Backend"
    errors = [e for e in run_checks() if e.id == "campaigns.E001"]
    assert len(errors) == 2
    assert "MESSAGE_SMS_BACKEND" in errors[0].msg and "email only" in errors[0].msg
    assert "MESSAGE_WECHAT_BACKEND" in errors[1].msg
