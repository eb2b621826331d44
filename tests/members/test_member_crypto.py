"""Member data keys: AES-GCM values that name their key, rotation by putting a new key first, blind indexes
under a key of their own, and an embedded mode that makes its keys on first use (members.crypto)."""

import base64
import hashlib
import hmac
import io
import stat

import pytest
from django.core.management import call_command

from members import crypto


def a_key(byte: bytes) -> str:
    return base64.b64encode(byte * 32).decode()


@pytest.fixture
def keys_in_environment(settings, tmp_path):
    settings.MEMBER_KEYS_FILE = tmp_path / "never-written"
    settings.MEMBER_DATA_KEYS = f"k1:{a_key(b'a')}"
    settings.MEMBER_INDEX_KEY = a_key(b"i")
    return settings


def test_a_value_is_stored_under_its_key_id_and_reads_back(keys_in_environment):
    stored = crypto.encrypt("上海市徐汇区漕溪北路 88 号", purpose="member.address")

    assert stored.startswith("k1:")
    assert "漕溪".encode() not in base64.b64decode(stored.partition(":")[2])
    assert crypto.decrypt(stored, purpose="member.address") == "上海市徐汇区漕溪北路 88 号"
    assert not (keys_in_environment.MEMBER_KEYS_FILE).exists()


def test_the_same_value_twice_gives_two_ciphertexts(keys_in_environment):
    first = crypto.encrypt("li.na@example.com", purpose="member.email")
    second = crypto.encrypt("li.na@example.com", purpose="member.email")

    assert first != second


def test_a_value_copied_into_another_column_does_not_decrypt(keys_in_environment):
    email = crypto.encrypt("li.na@example.com", purpose="member.email")

    with pytest.raises(crypto.UndecryptableValue):
        crypto.decrypt(email, purpose="member.address")


def test_an_altered_value_does_not_decrypt(keys_in_environment):
    stored = crypto.encrypt("li.na@example.com", purpose="member.email")
    raw = bytearray(base64.b64decode(stored.partition(":")[2]))
    raw[-1] ^= 1
    altered = "k1:" + base64.b64encode(bytes(raw)).decode()

    with pytest.raises(crypto.UndecryptableValue, match="does not decrypt"):
        crypto.decrypt(altered, purpose="member.email")


def test_after_a_new_key_is_put_first_old_values_still_read_and_new_ones_use_it(keys_in_environment):
    old = crypto.encrypt("13812345678", purpose="member.phone")

    keys_in_environment.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')},k1:{a_key(b'a')}"
    new = crypto.encrypt("13812345678", purpose="member.phone")

    assert new.startswith("k2:") and crypto.is_current(new) and not crypto.is_current(old)
    assert crypto.decrypt(old, purpose="member.phone") == crypto.decrypt(new, purpose="member.phone")


def test_a_value_whose_key_was_removed_says_which_key_it_needs(keys_in_environment):
    old = crypto.encrypt("13812345678", purpose="member.phone")
    keys_in_environment.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')}"

    with pytest.raises(crypto.UndecryptableValue, match="'k1'"):
        crypto.decrypt(old, purpose="member.phone")


def test_a_blind_index_is_the_same_for_the_same_value_and_differs_by_purpose_and_key(keys_in_environment):
    exact = crypto.blind_index("+8613812345678", purpose="phone")

    assert exact == crypto.blind_index("+8613812345678", purpose="phone")
    assert len(exact) == crypto.INDEX_HEX_LENGTH and int(exact, 16) >= 0
    assert exact != crypto.blind_index("+8613812345678", purpose="phone-prefix")
    # Rotating the data keys leaves the indexes alone; another index key changes them all.
    keys_in_environment.MEMBER_DATA_KEYS = f"k2:{a_key(b'b')}"
    assert crypto.blind_index("+8613812345678", purpose="phone") == exact
    keys_in_environment.MEMBER_INDEX_KEY = a_key(b"j")
    assert crypto.blind_index("+8613812345678", purpose="phone") != exact


@pytest.mark.parametrize("value", ["", "+8613812345678", "王", "王小明", "x" * 300])
@pytest.mark.parametrize("key", [b"i" * 32, bytes(range(32))])
def test_a_blind_index_is_the_standard_hmac_sha256_of_purpose_and_value(settings, tmp_path, key, value):
    # The indexes already stored were made with hmac.new: the faster computation must give the same digests.
    settings.MEMBER_KEYS_FILE = tmp_path / "never-written"
    settings.MEMBER_DATA_KEYS = f"k1:{a_key(b'a')}"
    settings.MEMBER_INDEX_KEY = base64.b64encode(key).decode()
    expected = hmac.new(key, b"member.name/prefix2\x00" + value.encode(), hashlib.sha256).hexdigest()
    assert crypto.blind_index(value, purpose="member.name/prefix2") == expected[: crypto.INDEX_HEX_LENGTH]
    assert crypto.blind_index(value, purpose="member.name/prefix2") == expected[: crypto.INDEX_HEX_LENGTH]


@pytest.mark.parametrize(
    ("data_keys", "index_key", "message"),
    [
        ("k1:" + a_key(b"a"), "", "both"),
        ("k1", a_key(b"i"), "id:base64-key"),
        ("k1:" + base64.b64encode(b"short").decode(), a_key(b"i"), "32 bytes"),
        (f"k1:{a_key(b'a')},k1:{a_key(b'b')}", a_key(b"i"), "twice"),
        ("k1:" + a_key(b"a"), a_key(b"a"), "differ"),
    ],
)
def test_malformed_keys_are_refused_with_what_is_wrong(settings, data_keys, index_key, message):
    settings.MEMBER_DATA_KEYS, settings.MEMBER_INDEX_KEY = data_keys, index_key

    with pytest.raises(crypto.MemberKeyError, match=message):
        crypto.encrypt("x", purpose="member.email")


def test_the_embedded_mode_makes_its_keys_on_first_use_readable_by_its_owner_only(settings, tmp_path):
    settings.MEMBER_DATA_KEYS = settings.MEMBER_INDEX_KEY = ""
    settings.MEMBER_KEYS_FILE = tmp_path / "data" / ".member-keys"

    stored = crypto.encrypt("li.na@example.com", purpose="member.email")

    keys_file = settings.MEMBER_KEYS_FILE
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert stored.startswith(f"{crypto.GENERATED_KEY_ID}:")
    # Another process (here: the cache forgotten) reads the same keys back.
    crypto.keyring.cache_clear()
    assert crypto.decrypt(stored, purpose="member.email") == "li.na@example.com"
    assert list(tmp_path.joinpath("data").iterdir()) == [keys_file]


def test_two_processes_making_the_keys_at_once_end_up_with_the_first_ones(settings, tmp_path):
    path = tmp_path / ".member-keys"
    crypto._create_keys_file(path)
    first = path.read_text()

    crypto._create_keys_file(path)

    assert path.read_text() == first
    assert list(tmp_path.iterdir()) == [path]


def test_member_keys_prints_a_pair_for_production_and_a_rotation_keeps_the_old_key(keys_in_environment):
    fresh, rotation = io.StringIO(), io.StringIO()

    call_command("member_keys", stdout=fresh)
    call_command("member_keys", "--rotate", stdout=rotation, stderr=io.StringIO())

    data_line, index_line = fresh.getvalue().splitlines()
    assert crypto.parse_data_keys(data_line.removeprefix("MEMBER_DATA_KEYS=")).keys() == {"k1"}
    assert len(base64.b64decode(index_line.removeprefix("MEMBER_INDEX_KEY="))) == 32
    rotated_data, rotated_index = rotation.getvalue().splitlines()
    rotated = crypto.parse_data_keys(rotated_data.removeprefix("MEMBER_DATA_KEYS="))
    assert list(rotated) == ["k2", "k1"] and rotated["k1"] == b"a" * 32
    assert rotated_index == f"MEMBER_INDEX_KEY={a_key(b'i')}"
