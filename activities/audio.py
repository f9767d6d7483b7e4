"""Combine the synthesised lines into one loudness-normalised MP3."""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.context import ActivityDeps, heartbeating, log
from podnex.audio import LineAudio, combine_lines
from podnex.storage.keys import staging_key
from workflows.types import CombineRequest, CombineResult, LineTiming


class AudioActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="combine_audio")
    async def combine_audio(self, request: CombineRequest) -> CombineResult:
        storage = self.deps.storage
        async with heartbeating():
            lines = [
                LineAudio(speaker=segment.speaker, wav=await storage.get(segment.key))
                for segment in request.segments
            ]
            combined = await asyncio.to_thread(combine_lines, lines)
            key = staging_key(request.podcast_id)
            await storage.put(key, combined.mp3, content_type="audio/mpeg")
        log().info(
            "audio combined",
            lines=len(lines),
            seconds=round(combined.duration_seconds, 2),
            bytes=len(combined.mp3),
        )
        return CombineResult(
            key=key,
            duration_seconds=combined.duration_seconds,
            size_bytes=len(combined.mp3),
            timings=[
                LineTiming(
                    index=t.index,
                    speaker=request.segments[t.index].speaker,
                    start_seconds=t.start_seconds,
                    end_seconds=t.end_seconds,
                )
                for t in combined.timings
            ],
        )
