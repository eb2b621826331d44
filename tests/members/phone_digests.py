"""Whether a text (a page, an API answer, what a tablet keeps) carries a fast digest of a phone: every
number a masked phone leaves is hashed the usual ways and looked for, whole or cut short."""

import base64
import functools
import hashlib
import re

# Runs of hex digits or of base64 characters: where a digest would sit in a page.
TOKENS = (re.compile(r"[0-9a-fA-F]{8,}"), re.compile(r"[A-Za-z0-9+/_-]{8,}"))
ALGORITHMS = ("sha256", "sha1", "md5", "sha512", "sha3_256", "blake2b")


def candidates_of(masked: str) -> list[str]:
    """The 10,000 mainland numbers (E.164) a masked phone such as 191****7751 leaves."""
    return [f"+86{masked[:3]}{middle:04d}{masked[-4:]}" for middle in range(10_000)]


def _forms(e164: str) -> list[bytes]:
    national = e164[3:]
    return [e164.encode(), national.encode(), ("86" + national).encode()]


@functools.cache
def _digest_index(candidates: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """Every candidate's fast digests (hex, base64, base64url), by their first 8 characters."""
    index: dict[str, list[tuple[str, str]]] = {}
    for candidate in candidates:
        for text in _forms(candidate):
            for algorithm in ALGORITHMS:
                raw = hashlib.new(algorithm, text).digest()
                for digest in (raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
                    index.setdefault(digest[:8], []).append((digest.rstrip("="), candidate))
    return index


def fast_digests_in(corpus: str, candidates: list[str]) -> set[str]:
    """The candidates whose fast digest, whole or cut short (8 characters or more), appears in `corpus`."""
    index = _digest_index(tuple(candidates))
    hits = set()
    for pattern in TOKENS:
        for token in pattern.findall(corpus):
            for text in {token, token.lower()}:
                for digest, candidate in index.get(text[:8], ()):
                    if digest.startswith(text) or text.startswith(digest):
                        hits.add(candidate)
    return hits
