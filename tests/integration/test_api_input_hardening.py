"""Hostile or careless input answers 4xx, never 500, and says what is wrong (issue #19).
Real HTTP through the `api` fixture (uvicorn, real Postgres)."""

from __future__ import annotations

import time
import uuid

import pytest

from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.signing import sign
from tests.conftest import LiveApi

# -- huge Range numbers (issue #19, 6) ---------------------------------------------------


async def _signed_file(api: LiveApi, settings: Settings) -> tuple[str, int]:
    key = f"podcasts/{uuid.uuid4()}/audio.mp3"
    audio = b"ID3" + bytes(range(256)) * 4
    await create_storage(settings).put(key, audio, content_type="audio/mpeg")
    expires = int(time.time()) + 300
    signature = sign(settings.resolved_secret_key(), key, expires)
    return f"/api/v1/files/{key}?expires={expires}&signature={signature}", len(audio)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=" + "9" * 5000 + "-", 416),
        ("bytes=" + "1" * 5000 + "-" + "2" * 5000, 416),
        ("bytes=0-" + "9" * 5000, 206),
        ("bytes=-" + "9" * 5000, 206),
    ],
)
async def test_range_with_huge_numbers_is_416_or_clamped(
    api: LiveApi, settings: Settings, header: str, status: int
) -> None:
    url, size = await _signed_file(api, settings)
    response = await api.client.get(url, headers={"Range": header})
    assert response.status_code == status, response.text[:300]
    if status == 416:
        assert response.headers["content-range"] == f"bytes */{size}"
    else:
        assert response.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
        assert len(response.content) == size
