"""API keys: random secrets shown once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "pnx_"
DISPLAY_PREFIX_LENGTH = 12


@dataclass(frozen=True)
class NewApiKey:
    plaintext: str
    prefix: str
    key_hash: str


def hash_key(plaintext: str) -> str:
    """SHA-256 of the key. Keys carry 192 random bits, so a fast hash is the right tool."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key() -> NewApiKey:
    plaintext = KEY_PREFIX + secrets.token_urlsafe(24)
    return NewApiKey(
        plaintext=plaintext,
        prefix=plaintext[:DISPLAY_PREFIX_LENGTH],
        key_hash=hash_key(plaintext),
    )


def matches(plaintext: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), key_hash)
