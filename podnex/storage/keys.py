"""Deterministic storage keys: the same input always lands at the same key."""

from __future__ import annotations

import hashlib


def work_prefix(podcast_id: str) -> str:
    """Everything a run writes before publishing; deleted after upload or on failure."""
    return f"work/{podcast_id}/"


def segment_key(podcast_id: str, provider: str, voice: str, text: str) -> str:
    """Content-addressed: a retried or repeated line finds its audio already there."""
    digest = hashlib.sha256(f"{provider}\x00{voice}\x00{text}".encode()).hexdigest()
    return f"{work_prefix(podcast_id)}segments/{digest}.wav"


def staging_key(podcast_id: str) -> str:
    return f"{work_prefix(podcast_id)}combined.mp3"


def podcast_prefix(podcast_id: str) -> str:
    """Everything published for a podcast: deleted with the podcast."""
    return f"podcasts/{podcast_id}/"


def audio_key(podcast_id: str) -> str:
    return f"{podcast_prefix(podcast_id)}audio.mp3"
