"""Payload encryption: what workflows and activities exchange (notes, titles, scripts) is
stored in Temporal encrypted, with keys only podnex and its operators hold.

AES-256-GCM over each whole serialised payload (the `cryptography` library), a fresh
96-bit nonce each time, the key's id in the payload's metadata. Several keys for rotation:
the first listed encrypts, every one listed decrypts, so old histories stay readable
until their runs are gone. Payloads that are not encrypted pass through both ways (runs
recorded before encryption was turned on still decode).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12


class CodecError(ValueError):
    """A payload cannot be decrypted (unknown key, or tampered with)."""


def parse_keys(value: str) -> dict[str, bytes]:
    """PAYLOAD_ENCRYPTION_KEYS: `id:base64key` entries, comma-separated, newest first;
    each key 32 bytes (AES-256). Keys keep their order (the first encrypts)."""
    keys: dict[str, bytes] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not key_id.strip():
            raise ValueError("each key is `id:base64`, e.g. `2026-11:<32 bytes in base64>`")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"key {key_id.strip()!r} is not valid base64") from exc
        if len(key) != 32:
            raise ValueError(f"key {key_id.strip()!r} must be 32 bytes, got {len(key)}")
        if key_id.strip() in keys:
            raise ValueError(f"key id {key_id.strip()!r} is listed twice")
        keys[key_id.strip()] = key
    return keys


def new_key() -> str:
    """A fresh 32-byte key in base64, for PAYLOAD_ENCRYPTION_KEYS."""
    return base64.b64encode(os.urandom(32)).decode()


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = next(iter(keys))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        # Decrypting is fast, but a large history is many payloads: off the event loop.
        if len(payloads) > 64:
            return await asyncio.to_thread(lambda: [self._decrypt(p) for p in payloads])
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self._current.encode()},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(f"payload encrypted with unknown key {key_id!r}")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, None))
        except InvalidTag as exc:
            raise CodecError(f"payload does not decrypt with key {key_id!r}") from exc
