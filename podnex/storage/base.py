"""Blob storage for audio: the interface every backend implements, and key rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

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

    async def exists(self, key: str) -> bool: ...

    async def stat(self, key: str) -> StoredObject: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...
