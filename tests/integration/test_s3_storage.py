"""S3 storage against a real S3 server (SeaweedFS, which checks signatures) through boto3."""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest

from podnex.settings import Settings
from podnex.storage import (
    LocalStorage,
    ObjectNotFound,
    StorageError,
    create_storage,
    delete_podcast_objects,
    presigned_get_url,
)
from podnex.storage.keys import audio_key, segment_key, segment_prefix, work_prefix
from podnex.storage.s3 import S3Storage
from tests.fakes.seaweed import SeaweedS3

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def storage(seaweed: SeaweedS3) -> S3Storage:
    bucket = f"podnex-{uuid.uuid4().hex[:12]}"
    seaweed.create_bucket(bucket)
    settings = Settings(
        storage_backend="s3",
        s3_bucket=bucket,
        s3_region=seaweed.region,
        s3_endpoint_url=seaweed.endpoint_url,
        s3_access_key_id=seaweed.access_key,
        s3_secret_access_key=seaweed.secret_key,  # type: ignore[arg-type]
        s3_addressing_style="path",
    )
    created = create_storage(settings)
    assert isinstance(created, S3Storage)
    return created


async def test_put_get_stat_and_metadata(storage: S3Storage, seaweed: SeaweedS3) -> None:
    podcast_id = str(uuid.uuid4())
    data = os.urandom(300_000)
    key = audio_key(podcast_id)
    stored = await storage.put(
        key,
        data,
        content_type="audio/mpeg",
        metadata={"podcast-id": podcast_id, "duration-seconds": "12.500"},
    )
    assert stored.size == len(data)
    assert await storage.get(key) == data
    assert await storage.exists(key)
    stat = await storage.stat(key)
    assert (stat.size, stat.content_type) == (len(data), "audio/mpeg")
    head = seaweed.client().head_object(Bucket=storage.bucket, Key=key)  # type: ignore[attr-defined]
    assert head["Metadata"] == {"podcast-id": podcast_id, "duration-seconds": "12.500"}
    assert head["ContentType"] == "audio/mpeg"


async def test_missing_objects(storage: S3Storage) -> None:
    assert not await storage.exists("podcasts/nothing/audio.mp3")
    with pytest.raises(ObjectNotFound):
        await storage.get("podcasts/nothing/audio.mp3")
    with pytest.raises(ObjectNotFound):
        await storage.stat("podcasts/nothing/audio.mp3")
    await storage.delete("podcasts/nothing/audio.mp3")  # deleting twice is fine


async def test_presigned_get_round_trip_tamper_expiry_and_delete(storage: S3Storage) -> None:
    key = audio_key(str(uuid.uuid4()))
    data = os.urandom(1_000_000)
    started = asyncio.get_running_loop().time()
    await storage.put(key, data, content_type="audio/mpeg")
    url = storage.presigned_get_url(key, expires_in=60)
    assert presigned_get_url(storage, key, 60) is not None
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=60" in url
    async with httpx.AsyncClient(timeout=30) as http:
        fetched = await http.get(url)
        elapsed = asyncio.get_running_loop().time() - started
        assert fetched.status_code == 200
        assert fetched.content == data, "byte for byte"
        assert fetched.headers["content-type"] == "audio/mpeg"
        print(f"\nS3 upload + presigned GET of {len(data):,} bytes: {elapsed * 1000:.0f} ms")

        ranged = await http.get(url, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == data[10:20]

        signature = url.rsplit("X-Amz-Signature=", 1)[1][:64]
        flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
        assert (await http.get(url.replace(signature, flipped))).status_code == 403
        other_key = url.replace(key, audio_key(str(uuid.uuid4())))
        assert (await http.get(other_key)).status_code == 403
        assert (await http.put(url, content=b"overwrite")).status_code == 403, "GET only"

        short = storage.presigned_get_url(key, expires_in=1)
        await asyncio.sleep(2.2)
        expired = await http.get(short)
        assert expired.status_code == 403
        assert "expired" in expired.text.lower()

        await storage.delete(key)
        assert not await storage.exists(key)
        assert (await http.get(url)).status_code == 404


async def test_delete_prefix_pages_through_every_object(
    storage: S3Storage, seaweed: SeaweedS3
) -> None:
    podcast_id = str(uuid.uuid4())
    neighbour = podcast_id[:-1] + ("0" if podcast_id[-1] != "0" else "1")
    paged = S3Storage(
        storage.bucket,
        region=seaweed.region,
        endpoint_url=seaweed.endpoint_url,
        access_key_id=seaweed.access_key,
        secret_access_key=seaweed.secret_key,
        addressing_style="path",
        list_page_size=2,
    )
    keys = [segment_key(podcast_id, "openai", "host", f"line {n}") for n in range(7)]
    for key in keys:
        await storage.put(key, b"RIFF" + key.encode(), content_type="audio/wav")
    kept = segment_key(neighbour, "openai", "host", "line 0")
    await storage.put(kept, b"RIFF", content_type="audio/wav")

    assert await paged.delete_prefix(segment_prefix(podcast_id)) == 7
    assert not any([await storage.exists(key) for key in keys])
    assert await storage.exists(kept), "a prefix is a folder, not a string prefix"
    assert await paged.delete_prefix(segment_prefix(podcast_id)) == 0
    with pytest.raises(StorageError):
        await storage.delete_prefix("work/no-trailing-slash")


async def test_deleting_a_podcast_removes_its_audio_and_work_files(storage: S3Storage) -> None:
    podcast_id = str(uuid.uuid4())
    await storage.put(audio_key(podcast_id), b"mp3", content_type="audio/mpeg")
    await storage.put(segment_key(podcast_id, "espeak", "host", "hi"), b"wav", content_type="x/y")
    await storage.put(f"{work_prefix(podcast_id)}combined.mp3", b"mp3", content_type="x/y")
    assert await delete_podcast_objects(storage, podcast_id) == 3
    assert not await storage.exists(audio_key(podcast_id))
    assert not await storage.exists(segment_key(podcast_id, "espeak", "host", "hi"))


async def test_wrong_credentials_are_refused(storage: S3Storage, seaweed: SeaweedS3) -> None:
    impostor = S3Storage(
        storage.bucket,
        region=seaweed.region,
        endpoint_url=seaweed.endpoint_url,
        access_key_id=seaweed.access_key,
        secret_access_key="not-the-secret",
        addressing_style="path",
    )
    with pytest.raises(StorageError, match="SignatureDoesNotMatch"):
        await impostor.put("podcasts/x/audio.mp3", b"x", content_type="audio/mpeg")
    forged = impostor.presigned_get_url("podcasts/x/audio.mp3", 60)
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(forged)).status_code == 403


def test_local_storage_has_no_presigned_links(tmp_path: object) -> None:
    local = LocalStorage(tmp_path)  # type: ignore[arg-type]
    assert presigned_get_url(local, "podcasts/x/audio.mp3", 60) is None
    assert not hasattr(local, "presigned_get_url")


def test_s3_settings_are_checked_at_start() -> None:
    with pytest.raises(ValueError, match="S3_BUCKET must be set"):
        Settings(storage_backend="s3")
    with pytest.raises(ValueError, match="S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"):
        Settings(storage_backend="s3", s3_bucket="b", s3_access_key_id="only-the-id")


async def test_links_are_signed_for_the_public_endpoint(
    seaweed: SeaweedS3, storage: S3Storage
) -> None:
    """With S3_PUBLIC_ENDPOINT_URL the worker talks to one address and download links name
    another (compose: `minio:9000` inside, `localhost:9000` outside); the signature covers
    the host, so the link works only through the public one."""
    internal = httpx.URL(seaweed.endpoint_url)
    assert internal.host == "127.0.0.1"
    public = str(internal.copy_with(host="localhost"))
    settings = Settings(
        storage_backend="s3",
        s3_bucket=storage.bucket,
        s3_region=seaweed.region,
        s3_endpoint_url=seaweed.endpoint_url,
        s3_public_endpoint_url=public,
        s3_access_key_id=seaweed.access_key,
        s3_secret_access_key=seaweed.secret_key,  # type: ignore[arg-type]
        s3_addressing_style="path",
    )
    behind = create_storage(settings)
    key = audio_key(str(uuid.uuid4()))
    await behind.put(key, b"public audio", content_type="audio/mpeg")
    url = httpx.URL(presigned_get_url(behind, key, 60) or "")
    assert url.host == "localhost"
    async with httpx.AsyncClient(timeout=30) as http:
        fetched = await http.get(url)
        assert fetched.status_code == 200 and fetched.content == b"public audio"
        assert (await http.get(url.copy_with(host="127.0.0.1"))).status_code == 403
