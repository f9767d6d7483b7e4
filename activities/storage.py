"""Publish the finished MP3 under its version's key, and clean up a run's partial audio."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps, log
from activities.status import mirror
from podnex.storage import ObjectNotFound
from podnex.storage.keys import audio_key, segment_prefix, work_prefix
from workflows.types import CleanupRequest, PublishRequest, PublishResult


class StorageActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="upload_audio")
    async def upload_audio(self, request: PublishRequest) -> PublishResult:
        """Publish the combined audio (`publish_audio`); runs started before the publish
        step (`publish_podcast`) call this, then record the usage."""
        return await publish_audio(self.deps, request)

    @activity.defn(name="delete_partial_audio")
    async def delete_partial_audio(self, request: CleanupRequest) -> int:
        """A first run's everything (work files, segments, audio); a re-render's own work
        files and version only: the published version and the segments stay."""
        storage = self.deps.storage
        removed = await storage.delete_prefix(work_prefix(request.podcast_id))
        if request.version is None:
            removed += await storage.delete_prefix(segment_prefix(request.podcast_id))
            await storage.delete(audio_key(request.podcast_id))
        else:
            await storage.delete(audio_key(request.podcast_id, request.version))
        log().info("partial audio deleted", objects=removed, version=request.version)
        return removed

    @activity.defn(name="delete_previous_audio")
    async def delete_previous_audio(self, request: CleanupRequest) -> None:
        """After a re-render's publish (the row names the new version): the version before
        it goes."""
        await delete_previous_audio(self.deps, request)


async def publish_audio(deps: ActivityDeps, request: PublishRequest) -> PublishResult:
    """Publish the combined audio under its version's key (and, when asked, mirror the
    point of no return first, so the API's cancel refuses from then on). Safe to repeat:
    a retry after the staging copy was cleaned finds the audio already published."""
    if request.upload_state is not None:
        async with deps.db.transaction() as session:
            await mirror(deps, session, request.upload_state)
    storage = deps.storage
    final_key = audio_key(request.podcast_id, request.version)
    try:
        data = await storage.get(request.staging_key)
    except ObjectNotFound:
        # A retry after the staging copy was cleaned: the upload already happened.
        stored = await storage.stat(final_key)
        return PublishResult(audio_key=final_key, size_bytes=stored.size)
    stored = await storage.put(
        final_key,
        data,
        content_type="audio/mpeg",
        metadata={
            "podcast-id": request.podcast_id,
            "duration-seconds": f"{request.duration_seconds:.3f}",
        },
    )
    removed = await storage.delete_prefix(work_prefix(request.podcast_id))
    log().info("audio uploaded", key=final_key, bytes=stored.size, segments_removed=removed)
    return PublishResult(audio_key=final_key, size_bytes=stored.size)


async def delete_previous_audio(deps: ActivityDeps, request: CleanupRequest) -> None:
    """A re-render's previous version's audio, once the row names the new one."""
    assert request.version is not None and request.version >= 2
    await deps.storage.delete(audio_key(request.podcast_id, request.version - 1))
    log().info("previous audio deleted", version=request.version - 1)
