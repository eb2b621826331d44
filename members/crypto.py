"""Members' personal data encrypted at rest, and the blind indexes that find it (DESIGN §10).

A value is encrypted with AES-GCM (authenticated: a changed byte fails to decrypt instead of reading as
something else) under the current data key, and stored as text `<key id>:<base64 of nonce + ciphertext>`,
so every ciphertext says which key opens it and keys can be rotated while the product runs: a new key is
put first in MEMBER_DATA_KEYS, new writes use it, old values still open with the old key until
`rotate_member_keys` has re-encrypted them. Each value is bound to its purpose (e.g. "member.email") as
associated data, so a ciphertext copied into another column does not decrypt there.

A blind index is a keyed HMAC-SHA256 of a normalised value under a key of its own (MEMBER_INDEX_KEY):
equal values give equal indexes, so the database can look a value up and enforce its uniqueness without
holding it, and without the key nobody can test guesses (a phone has only ~10⁹ candidates, so an
unkeyed hash would be read back by brute force in seconds).

Where the keys come from: the environment (production; config/production.py refuses to start without
them), otherwise MEMBER_KEYS_FILE, which the first process to need a key creates with fresh random keys
and mode 0600 (the embedded mode, which needs no set-up).
"""

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
NONCE_BYTES = 12
INDEX_HEX_LENGTH = 32  # 128 bits: no two phones of a chain collide, and a UNIQUE index on it stays small
GENERATED_KEY_ID = "local1"


class MemberKeyError(ImproperlyConfigured):
    """The keys are missing or malformed: nothing can be read or written until an operator fixes them."""


class UndecryptableValue(ValueError):
    """A stored value that no configured key opens: its key is not configured, or the value was altered."""


@dataclass(frozen=True)
class Keyring:
    data_keys: dict[str, bytes]  # in MEMBER_DATA_KEYS' order: the first one encrypts
    index_key: bytes
    source: str  # "environment" or the keys file's path, for messages

    def __post_init__(self):
        # Built once: making a cipher or an HMAC from a key costs more than sealing a short value with it,
        # and an import seals several values per row.
        object.__setattr__(self, "ciphers", {key_id: AESGCM(key) for key_id, key in self.data_keys.items()})
        object.__setattr__(self, "index_mac", _IndexMac(self.index_key))

    @property
    def current_key_id(self) -> str:
        return next(iter(self.data_keys))


def _decode_key(text: str, *, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error as error:
        raise MemberKeyError(f"{what} is not base64: {error}") from None
    if len(key) != 32:
        raise MemberKeyError(f"{what} must be 32 bytes (256 bits) once base64-decoded, not {len(key)}.")
    return key


def parse_data_keys(text: str) -> dict[str, bytes]:
    """'k2:<base64>,k1:<base64>' → {'k2': key, 'k1': key}, in that order."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not KEY_ID.match(key_id):
            raise MemberKeyError(
                "MEMBER_DATA_KEYS is a comma-separated list of id:base64-key (ids of letters, digits, _ and -)."
            )
        if key_id in keys:
            raise MemberKeyError(f"MEMBER_DATA_KEYS names the key id {key_id!r} twice.")
        keys[key_id] = _decode_key(encoded, what=f"MEMBER_DATA_KEYS' key {key_id!r}")
    if not keys:
        raise MemberKeyError("MEMBER_DATA_KEYS holds no key.")
    return keys


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _read_keys_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _create_keys_file(path: Path) -> None:
    """Fresh keys into `path`, mode 0600, unless another process got there first (then theirs win)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Keys of the members' personal data (members/crypto.py), generated for the embedded mode.\n"
        "# Losing this file loses every member's encrypted data: back it up apart from the database.\n"
        f"MEMBER_DATA_KEYS={GENERATED_KEY_ID}:{new_key_text()}\n"
        f"MEMBER_INDEX_KEY={new_key_text()}\n"
    )
    # Written whole under a unique name, then linked into place: a concurrent process (two test workers,
    # the server and a command) either creates the file or finds a complete one, never half of one.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def keys_in_environment() -> bool:
    return bool(settings.MEMBER_DATA_KEYS and settings.MEMBER_INDEX_KEY)


@cache
def keyring() -> Keyring:
    if settings.MEMBER_DATA_KEYS or settings.MEMBER_INDEX_KEY:
        if not keys_in_environment():
            raise MemberKeyError("Set both MEMBER_DATA_KEYS and MEMBER_INDEX_KEY, or neither (embedded mode).")
        data_text, index_text, source = settings.MEMBER_DATA_KEYS, settings.MEMBER_INDEX_KEY, "environment"
    else:
        path = Path(settings.MEMBER_KEYS_FILE)
        if not path.exists():
            _create_keys_file(path)
        values = _read_keys_file(path)
        data_text, index_text = values.get("MEMBER_DATA_KEYS", ""), values.get("MEMBER_INDEX_KEY", "")
        source = str(path)
    data_keys = parse_data_keys(data_text)
    index_key = _decode_key(index_text, what="MEMBER_INDEX_KEY")
    if index_key in data_keys.values():
        raise MemberKeyError("MEMBER_INDEX_KEY must differ from every data key.")
    return Keyring(data_keys=data_keys, index_key=index_key, source=source)


@receiver(setting_changed)
def _forget_keys(*, setting: str, **kwargs) -> None:
    if setting in {"MEMBER_DATA_KEYS", "MEMBER_INDEX_KEY", "MEMBER_KEYS_FILE"}:
        keyring.cache_clear()


def encrypt(plaintext: str, *, purpose: str) -> str:
    ring = keyring()
    key_id = ring.current_key_id
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = ring.ciphers[key_id].encrypt(nonce, plaintext.encode(), purpose.encode())
    return f"{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str:
    return token.partition(":")[0]


def decrypt(token: str, *, purpose: str) -> str:
    key_id, sep, encoded = token.partition(":")
    cipher = keyring().ciphers.get(key_id) if sep else None
    if cipher is None:
        raise UndecryptableValue(
            f"A stored {purpose} was encrypted with the key {key_id!r}, which MEMBER_DATA_KEYS does not hold."
        )
    try:
        raw = base64.b64decode(encoded, validate=True)
        return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode()).decode()
    except (binascii.Error, InvalidTag, UnicodeDecodeError):
        raise UndecryptableValue(f"A stored {purpose} does not decrypt with its key {key_id!r}.") from None


def is_current(token: str) -> bool:
    """Whether the value is under the key that encrypts today (`rotate_member_keys` skips it)."""
    return key_id_of(token) == keyring().current_key_id


def blind_index(value: str, *, purpose: str) -> str:
    """The keyed HMAC of an already normalised value, as 32 hex digits; a purpose of its own per index, so
    equal text in two indexes (a phone prefix and a name prefix) gives unrelated digests."""
    return keyring().index_mac.hexdigest(purpose, value)[:INDEX_HEX_LENGTH]


class _IndexMac:
    """HMAC-SHA256 (RFC 2104) over `purpose NUL value`, with the hash states after the padded key, and
    after the padded key and each purpose, computed once. The same digests as `hmac.new(key, purpose +
    b"\0" + value, sha256)` (tests/members/test_member_crypto.py) at half the cost: an imported row
    makes several, and `hmac.HMAC.copy()` builds Python objects for each."""

    _BLOCK = 64  # SHA-256's block size

    def __init__(self, key: bytes):
        key = key.ljust(self._BLOCK, b"\x00")  # index keys are 32 bytes (_decode_key): no longer than a block
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
        self._inner_by_purpose: dict[str, hashlib._Hash] = {}

    def hexdigest(self, purpose: str, value: str) -> str:
        inner = self._inner_by_purpose.get(purpose)
        if inner is None:
            inner = self._inner.copy()
            inner.update(purpose.encode() + b"\x00")
            self._inner_by_purpose[purpose] = inner
        inner = inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()
