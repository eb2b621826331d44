"""Member data keys for tests that rotate them (members.crypto): fixed keys in the environment, so a test
can put a new one in front and see old values still open."""

import base64

import pytest


def a_key(byte: bytes) -> str:
    return base64.b64encode(byte * 32).decode()


@pytest.fixture
def keys(settings, tmp_path):
    settings.MEMBER_KEYS_FILE = tmp_path / "unused"
    settings.MEMBER_DATA_KEYS = f"k1:{a_key(b'a')}"
    settings.MEMBER_INDEX_KEY = a_key(b"i")
    return settings
