"""Blob storage backends."""

from __future__ import annotations

from podnex.settings import Settings
from podnex.storage.base import ObjectNotFound, Storage, StorageError, StoredObject
from podnex.storage.local import LocalStorage

__all__ = [
    "LocalStorage",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StoredObject",
    "create_storage",
]


def create_storage(settings: Settings) -> Storage:
    """The backend chosen by STORAGE_BACKEND."""
    if settings.storage_backend == "local":
        return LocalStorage(settings.resolved_storage_dir)
    raise ValueError(f"unknown storage backend {settings.storage_backend!r}")
