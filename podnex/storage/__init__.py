"""Blob storage backends: a local folder (the embedded default) or S3.

Download links: S3 storage hands out its own expiring links (`presigned_get_url`
returns a presigned GET URL); local storage has no such method (`presigned_get_url`
returns None) and its audio is served by the API through HMAC-signed links.
"""

from __future__ import annotations

from podnex.settings import Settings
from podnex.storage.base import (
    ObjectNotFound,
    PresignedDownloads,
    Storage,
    StorageError,
    StoredObject,
    presigned_get_url,
)
from podnex.storage.keys import podcast_prefix, work_prefix
from podnex.storage.local import LocalStorage

__all__ = [
    "LocalStorage",
    "ObjectNotFound",
    "PresignedDownloads",
    "Storage",
    "StorageError",
    "StoredObject",
    "create_storage",
    "delete_podcast_objects",
    "presigned_get_url",
]


def create_storage(settings: Settings) -> Storage:
    """The backend chosen by STORAGE_BACKEND."""
    if settings.storage_backend == "local":
        return LocalStorage(settings.resolved_storage_dir)
    if settings.storage_backend == "s3":
        from podnex.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    raise ValueError(f"unknown storage backend {settings.storage_backend!r}")


async def delete_podcast_objects(storage: Storage, podcast_id: str) -> int:
    """Delete everything stored for a podcast (its audio and any work files); the count.

    For when a podcast is deleted; safe to call twice.
    """
    published = await storage.delete_prefix(podcast_prefix(podcast_id))
    return published + await storage.delete_prefix(work_prefix(podcast_id))
