"""S3 storage through boto3: AWS S3, MinIO, Cloudflare R2, SeaweedFS or any S3 server.

boto3 is synchronous, so every call runs in a worker thread (`asyncio.to_thread`) and
the event loop stays free; one boto3 client (thread-safe) serves every call. Downloads
are presigned GET URLs that expire; the bucket must exist (podnex never creates one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from podnex.settings import Settings
from podnex.storage.base import ObjectNotFound, StorageError, StoredObject, validate_key

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_DELETE_BATCH = 1000
"""Most keys one DeleteObjects request may name."""


class S3Storage:
    """Objects in one S3 bucket; content type and metadata are the object's own."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "auto",
        list_page_size: int = 1000,
        public_endpoint_url: str | None = None,
    ) -> None:
        """Open a client for ``bucket``; without keys boto3's default credential chain applies.

        ``list_page_size`` is how many keys one ListObjectsV2 page asks for.
        ``public_endpoint_url`` is where clients reach the server when it differs from
        ``endpoint_url`` (``http://minio:9000`` inside a compose network): download links
        are signed for that host, since a SigV4 signature covers it.
        """
        self.bucket = bucket
        self.list_page_size = list_page_size
        session = boto3.session.Session()
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing_style},
            retries={"mode": "standard", "max_attempts": 3},
            # Checksums only where S3 requires them: MinIO, R2 and other S3 servers
            # reject or mishandle the newer default ones.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        credentials = {
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": config,
        }
        self.client: Any = session.client("s3", endpoint_url=endpoint_url, **credentials)
        self.signer: Any = (
            session.client("s3", endpoint_url=public_endpoint_url, **credentials)
            if public_endpoint_url
            else self.client
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """The bucket and credentials named by the S3_* settings."""
        if not settings.s3_bucket:
            raise ValueError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
        secret = settings.s3_secret_access_key
        return cls(
            settings.s3_bucket,
            region=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            addressing_style=settings.s3_addressing_style,
            public_endpoint_url=settings.s3_public_endpoint_url,
        )

    # -- the Storage protocol ---------------------------------------------------------------

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """Write ``data`` under ``key`` (replacing it) with its content type and metadata."""
        await self._call(
            "put_object",
            Bucket=self.bucket,
            Key=validate_key(key),
            Body=data,
            ContentType=content_type,
            Metadata=dict(metadata or {}),
        )
        return StoredObject(key=key, size=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        """The object's bytes; :class:`ObjectNotFound` when there is none."""
        return await asyncio.to_thread(self._get, validate_key(key))

    async def read_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes from ``start`` (a ranged GET); empty when ``length`` is 0."""
        if length <= 0:
            return b""
        byte_range = f"bytes={start}-{start + length - 1}"
        return await asyncio.to_thread(self._get, validate_key(key), byte_range)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        try:
            await self.stat(key)
        except ObjectNotFound:
            return False
        return True

    async def stat(self, key: str) -> StoredObject:
        """The object's size and content type; :class:`ObjectNotFound` when there is none."""
        head = await self._call("head_object", Bucket=self.bucket, Key=validate_key(key))
        return StoredObject(
            key=key,
            size=int(head["ContentLength"]),
            content_type=str(head.get("ContentType", "application/octet-stream")),
        )

    async def delete(self, key: str) -> None:
        """Delete the object; deleting a missing key is not an error."""
        await self._call("delete_object", Bucket=self.bucket, Key=validate_key(key))

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under a folder-like prefix ending in `/`; how many there were."""
        if not prefix.endswith("/"):
            raise StorageError(f"a prefix must end in '/': {prefix!r}")
        validate_key(prefix.rstrip("/"))
        return await asyncio.to_thread(self._delete_prefix, prefix)

    # -- download links -----------------------------------------------------------------------

    def presigned_get_url(self, key: str, expires_in: int) -> str:
        """A presigned GET URL for ``key`` that expires after ``expires_in`` seconds.

        Signing happens locally (no request to the server), for the public endpoint when
        one is set. The URL allows GET (and so byte ranges) of this one object only; any
        change to it breaks the signature.
        """
        if expires_in < 1:
            raise ValueError("expires_in must be at least one second")
        return str(
            self.signer.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": validate_key(key)},
                ExpiresIn=expires_in,
                HttpMethod="GET",
            )
        )

    # -- blocking helpers (run in worker threads) ---------------------------------------------

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """Run one client operation in a worker thread, errors mapped to storage errors."""
        return await asyncio.to_thread(self._blocking, operation, **params)

    def _blocking(self, operation: str, **params: Any) -> dict[str, Any]:
        key = params.get("Key", params.get("Prefix", ""))
        try:
            result: dict[str, Any] = getattr(self.client, operation)(**params)
        except ClientError as exc:
            raise _storage_error(exc, key) from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {operation} {key!r} failed: {exc}") from exc
        return result

    def _get(self, key: str, byte_range: str | None = None) -> bytes:
        params = {"Range": byte_range} if byte_range else {}
        response = self._blocking("get_object", Bucket=self.bucket, Key=key, **params)
        body = response["Body"]
        try:
            data: bytes = body.read()
        except BotoCoreError as exc:
            raise StorageError(f"S3 read of {key!r} failed: {exc}") from exc
        finally:
            body.close()
        return data

    def _keys_under(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=prefix,
            PaginationConfig={"PageSize": self.list_page_size},
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield str(item["Key"])
        except ClientError as exc:
            raise _storage_error(exc, prefix) from exc

    def _delete_prefix(self, prefix: str) -> int:
        keys = list(self._keys_under(prefix))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            result = self._blocking(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            errors = result.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"S3 could not delete {len(errors)} object(s) under {prefix!r}, "
                    f"e.g. {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                )
        return len(keys)


def _storage_error(exc: ClientError, key: str) -> StorageError:
    """A boto3 client error as a storage error (:class:`ObjectNotFound` for 404)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code in _NOT_FOUND_CODES:
        return ObjectNotFound(key)
    message = error.get("Message") or str(exc)
    return StorageError(f"S3 error {code} for {key!r}: {message}")
