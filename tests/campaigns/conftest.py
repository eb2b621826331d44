import pytest

from tests.factories import MemberFactory
from tests.loyalty.clock import Clock, local


@pytest.fixture(autouse=True)
def _outbox_file(settings, tmp_path):
    """The embedded default backend (a JSON-lines file) writes into the test's own folder."""
    settings.MESSAGE_FILE_PATH = tmp_path / "outbox.jsonl"
    settings.MESSAGE_SMS_BACKEND = "file"
    settings.MESSAGE_EMAIL_BACKEND = "file"
    settings.MESSAGE_WECHAT_BACKEND = "file"
    return settings.MESSAGE_FILE_PATH


@pytest.fixture
def outbox_file(_outbox_file):
    return _outbox_file


@pytest.fixture
def consenting(db):
    """王芳: marketing consent, a phone and an email."""
    return MemberFactory(phone="13800138000", name="王芳", email="wangfang@example.com", marketing_consent=True)


@pytest.fixture
def unconsenting(db):
    """李娜: no marketing consent."""
    return MemberFactory(phone="13900139000", name="李娜", email="lina@example.com", marketing_consent=False)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, local(2026, 3, 15, 12, 0))
