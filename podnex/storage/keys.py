"""Deterministic storage keys: the same input always lands at the same key."""

from __future__ import annotations

import hashlib


def work_prefix(podcast_id: str) -> str:
    """Everything a run writes before publishing; deleted after upload or on failure."""
    return f"work/{podcast_id}/"


def segment_prefix(podcast_id: str) -> str:
    """A podcast's synthesised lines: kept while the podcast exists (an edited script is
    re-rendered from them), until `SEGMENT_RETENTION_DAYS` after its last run, and deleted
    with the podcast."""
    return f"segments/{podcast_id}/"


def segment_key(podcast_id: str, provider: str, voice: str, text: str) -> str:
    """Content-addressed: a retried, repeated or unchanged line finds its audio already
    there."""
    digest = hashlib.sha256(f"{provider}\x00{voice}\x00{text}".encode()).hexdigest()
    return f"{segment_prefix(podcast_id)}{digest}.wav"


def staging_key(podcast_id: str) -> str:
    return f"{work_prefix(podcast_id)}combined.mp3"


def podcast_prefix(podcast_id: str) -> str:
    """Everything published for a podcast: deleted with the podcast."""
    return f"podcasts/{podcast_id}/"


def audio_key(podcast_id: str, version: int = 1) -> str:
    """The published audio of ``version``: version 1 (and every podcast published before
    versions) at `audio.mp3`, later versions at `audio-v<N>.mp3`, so the previous version
    stays downloadable until the new one is published."""
    if version <= 1:
        return f"{podcast_prefix(podcast_id)}audio.mp3"
    return f"{podcast_prefix(podcast_id)}audio-v{version}.mp3"
