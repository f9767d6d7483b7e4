"""Blob storage backends: a local folder (the embedded default) or S3.

Download links (`download_link`): S3 storage hands out its own expiring links (a
presigned GET); local storage has none, and its audio is served by the API through
HMAC-signed, expiring links to the files route, which reads it with `read_range`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from podnex.settings import Settings
from podnex.storage.base import (
    ObjectNotFound,
    PresignedDownloads,
    Storage,
    StorageError,
    StoredObject,
    presigned_get_url,
)
from podnex.storage.keys import podcast_prefix, segment_prefix, work_prefix
from podnex.storage.local import LocalStorage
from podnex.storage.signing import sign

__all__ = [
    "DownloadLink",
    "LocalStorage",
    "ObjectNotFound",
    "PresignedDownloads",
    "Storage",
    "StorageError",
    "StoredObject",
    "create_storage",
    "delete_podcast_objects",
    "download_link",
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
    """Delete everything stored for a podcast (its audio, its segments and any work files);
    the count.

    For when a podcast is deleted; safe to call twice.
    """
    published = await storage.delete_prefix(podcast_prefix(podcast_id))
    segments = await storage.delete_prefix(segment_prefix(podcast_id))
    return published + segments + await storage.delete_prefix(work_prefix(podcast_id))


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime


def download_link(
    storage: Storage,
    key: str,
    *,
    ttl_seconds: int,
    now: float,
    secret_key: bytes,
    files_url: str,
) -> DownloadLink:
    """An expiring GET link to ``key``: the backend's own (presigned) where it has one,
    else ``files_url``/<key> signed with ``secret_key`` (the API's files route)."""
    expires = int(now) + ttl_seconds
    url = presigned_get_url(storage, key, ttl_seconds)
    if url is None:
        signature = sign(secret_key, key, expires)
        query = f"expires={expires}&signature={quote(signature, safe='')}"
        url = f"{files_url.rstrip('/')}/{key}?{query}"
    return DownloadLink(url=url, expires_at=datetime.fromtimestamp(expires, UTC))
