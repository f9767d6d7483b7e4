"""Blob storage for audio: the interface every backend implements, and key rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,499}$")


class StorageError(Exception):
    pass


class ObjectNotFound(StorageError):
    pass


def validate_key(key: str) -> str:
    """Keys are relative paths of safe characters, never escaping the store."""
    if not _KEY_PATTERN.match(key) or ".." in key.split("/") or "//" in key:
        raise StorageError(f"invalid storage key: {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str


class Storage(Protocol):
    """An object store. Every method is safe to call twice (activities are retried)."""

    name: str

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject: ...

    async def get(self, key: str) -> bytes: ...

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of the object from byte ``start`` (fewer at its end)."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def stat(self, key: str) -> StoredObject: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...


@runtime_checkable
class PresignedDownloads(Protocol):
    """The optional capability of a backend that hands out its own download links.

    S3 storage has it (a presigned GET); local storage does not, and its audio is served
    by the API through HMAC-signed, expiring links instead. Use `presigned_get_url`.
    """

    def presigned_get_url(self, key: str, expires_in: int) -> str:
        """A URL that GETs ``key`` without credentials for ``expires_in`` seconds."""
        ...


def presigned_get_url(storage: Storage, key: str, expires_in: int) -> str | None:
    """The backend's own expiring GET link for ``key``, or None when it has none (local)."""
    if isinstance(storage, PresignedDownloads):
        return storage.presigned_get_url(key, expires_in)
    return None
