"""HMAC-signed, expiring download links for storage served through the API."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _signature(secret: bytes, key: str, expires: int) -> str:
    digest = hmac.new(secret, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(secret: bytes, key: str, expires: int) -> str:
    return _signature(secret, key, expires)


def verify(secret: bytes, key: str, expires: int, signature: str, now: float) -> bool:
    """True when the signature matches and the link has not expired.

    Compared as UTF-8 bytes: a signature with non-ASCII characters is simply wrong
    (`hmac.compare_digest` refuses non-ASCII strings).
    """
    if expires < now:
        return False
    expected = _signature(secret, key, expires).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape"))
