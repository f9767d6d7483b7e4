"""Range parsing, link signing, billing periods, API keys and storage keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.ranges import RangeNotSatisfiable, parse_range
from podnex import apikeys
from podnex.periods import add_months, current_period
from podnex.storage import signing
from podnex.storage.base import StorageError, validate_key
from podnex.storage.keys import audio_key, segment_key, segment_prefix


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=5-1", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0"])
def test_unsatisfiable_range(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


def test_signed_links_expire_and_bind_the_key() -> None:
    secret = b"s3cret"
    signature = signing.sign(secret, "podcasts/a/audio.mp3", 2_000)
    assert signing.verify(secret, "podcasts/a/audio.mp3", 2_000, signature, now=1_999)
    assert not signing.verify(secret, "podcasts/a/audio.mp3", 2_000, signature, now=2_001)
    assert not signing.verify(secret, "podcasts/b/audio.mp3", 2_000, signature, now=1_000)
    assert not signing.verify(secret, "podcasts/a/audio.mp3", 3_000, signature, now=1_000)
    assert not signing.verify(b"other", "podcasts/a/audio.mp3", 2_000, signature, now=1_000)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)


def test_current_period_steps_forward_whole_months() -> None:
    start = datetime(2026, 1, 10, tzinfo=UTC)
    end = datetime(2026, 2, 10, tzinfo=UTC)
    assert current_period(start, end, datetime(2026, 1, 20, tzinfo=UTC)) == (start, end)
    assert current_period(start, end, datetime(2026, 4, 11, tzinfo=UTC)) == (
        datetime(2026, 4, 10, tzinfo=UTC),
        datetime(2026, 5, 10, tzinfo=UTC),
    )


def test_api_keys_are_random_and_stored_as_hash() -> None:
    keys = {apikeys.generate_key().plaintext for _ in range(100)}
    assert len(keys) == 100
    new = apikeys.generate_key()
    assert new.plaintext.startswith("pnx_") and len(new.plaintext) >= 4 + 32
    assert new.key_hash != new.plaintext and len(new.key_hash) == 64
    assert new.plaintext.startswith(new.prefix)
    assert apikeys.matches(new.plaintext, new.key_hash)
    assert not apikeys.matches(new.plaintext + "x", new.key_hash)


def test_storage_keys_are_deterministic_and_safe() -> None:
    a = segment_key("p1", "espeak", "host", "Hello.")
    assert a == segment_key("p1", "espeak", "host", "Hello.")
    assert a != segment_key("p1", "espeak", "guest", "Hello.")
    assert a.startswith(segment_prefix("p1"))
    assert audio_key("p1", 3) == "podcasts/p1/audio-v3.mp3"
    assert audio_key("p1") == "podcasts/p1/audio.mp3"
    for bad in ("../etc/passwd", "/abs", "a/../b", "a//b", ""):
        with pytest.raises(StorageError):
            validate_key(bad)
