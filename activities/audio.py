"""Combine the synthesised lines into one loudness-normalised MP3."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps, heartbeating, log
from podnex.audio import combine_stored_lines
from podnex.storage.keys import staging_key
from workflows.types import CombineRequest, CombineResult


class AudioActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="combine_audio")
    async def combine_audio(self, request: CombineRequest) -> CombineResult:
        storage = self.deps.storage
        async with heartbeating():
            # Streamed: each line is fetched as the mix reaches it, never the whole episode.
            combined = await combine_stored_lines(
                [
                    (segment.speaker, segment.key, segment.pause_before_ms)
                    for segment in request.segments
                ],
                storage.get,
            )
            key = staging_key(request.podcast_id)
            await storage.put(key, combined.mp3, content_type="audio/mpeg")
        log().info(
            "audio combined",
            lines=len(request.segments),
            seconds=round(combined.duration_seconds, 2),
            bytes=len(combined.mp3),
        )
        return CombineResult(
            key=key,
            duration_seconds=combined.duration_seconds,
            size_bytes=len(combined.mp3),
            timings=combined.timings,
        )
