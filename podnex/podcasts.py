"""Podcast records: the one writer of the podcast row, and owner-scoped reads.

Every change of a podcast is a function here: creation, the mirror of its run's state
(written by the workflow through the status activity), a run that could not start, a
retry, details changed by its owner and soft deletion. Callers (the API's service, the
activities) decide when; this module decides what the row looks like afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import regex
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from podnex.models import Podcast
from podnex.script.types import Script, ScriptLine
from podnex.spec import PodcastSpec, RunState, TranscriptLine
from podnex.vocabulary import PodcastStatus

__all__ = [
    "NewPodcast",
    "Outcome",
    "PodcastBusy",
    "clip_title",
    "close_stranded",
    "close_stranded_rerender",
    "count_retry",
    "create_podcast",
    "discard",
    "expired_segments",
    "find_by_idempotency_key",
    "forget_audio",
    "get_for_user",
    "list_for_user",
    "mark_not_started",
    "mirror_run_state",
    "parse_id",
    "reset_for_retry",
    "restore",
    "save_script",
    "script_of",
    "soft_delete",
    "spec_of",
    "transcript_of",
    "update_details",
]


@dataclass(frozen=True)
class NewPodcast:
    """A podcast to create: what it asks for, and how the request can be recognised again."""

    spec: PodcastSpec
    note_id: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None


TITLE_MAX_CHARS: int = Podcast.__table__.c.title.type.length  # type: ignore[attr-defined]
_GRAPHEME = regex.compile(r"\X")


def clip_title(title: str, limit: int = TITLE_MAX_CHARS) -> str:
    """``title`` cut to at most ``limit`` characters without splitting a grapheme (a letter
    and its accents stay together); a single grapheme longer than ``limit`` (a letter
    under a pile of combining marks) is cut to ``limit``."""
    title = title.strip()
    if len(title) <= limit:
        return title
    kept = 0
    for grapheme in _GRAPHEME.finditer(title):
        if grapheme.end() > limit:
            break
        kept = grapheme.end()
    return (title[:kept] if kept else title[:limit]).rstrip()


class PodcastBusy(Exception):
    """The change is refused while the podcast is being made."""


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


SPEC_COLUMNS = frozenset(PodcastSpec.model_fields) & frozenset(Podcast.__table__.columns.keys())
"""Spec fields stored in a column of the same name; the others live in `options` (JSON), so a
new request option needs no column of its own."""


def spec_values(spec: PodcastSpec) -> dict[str, Any]:
    """The podcast row's values for ``spec``: its columns, and `options` for the rest."""
    values: dict[str, Any] = {name: getattr(spec, name) for name in SPEC_COLUMNS}
    values["options"] = spec.model_dump(mode="json", exclude=set(SPEC_COLUMNS))
    return values


def spec_of(podcast: Podcast) -> PodcastSpec:
    """What the stored podcast asks for: its spec columns, then its stored options."""
    columns = {name: getattr(podcast, name) for name in SPEC_COLUMNS}
    return PodcastSpec.model_validate({**(podcast.options or {}), **columns})


def transcript_of(podcast: Podcast) -> list[TranscriptLine]:
    """The stored transcript; lines stored before they carried their index get it here."""
    return [
        TranscriptLine.model_validate({"index": index, **line})
        for index, line in enumerate(podcast.transcript or [])
    ]


def script_of(podcast: Podcast) -> list[ScriptLine]:
    """The stored script's lines in speaking order (empty until the script is written)."""
    return [ScriptLine.model_validate(line) for line in podcast.script or []]


async def save_script(session: AsyncSession, podcast_id: uuid.UUID, script: Script) -> None:
    """Keep the script written for a podcast with it; a script written again replaces it."""
    await session.execute(
        update(Podcast)
        .where(Podcast.id == podcast_id)
        .values(script=[line.model_dump(mode="json") for line in script.lines])
    )


async def create_podcast(
    session: AsyncSession,
    user_id: uuid.UUID,
    new: NewPodcast,
    *,
    workflow_id_for: Callable[[str], str],
) -> Podcast:
    """A QUEUED podcast; its runs use the workflow id ``workflow_id_for`` gives its id."""
    podcast_id = uuid.uuid4()
    podcast = Podcast(
        id=podcast_id,
        user_id=user_id,
        **spec_values(new.spec),
        note_id=new.note_id,
        idempotency_key=new.idempotency_key,
        request_fingerprint=new.request_fingerprint,
        status=PodcastStatus.QUEUED,
        progress=0,
        current_step="Queued",
        retry_count=0,
        quota_reserved=False,
        workflow_id=workflow_id_for(str(podcast_id)),
    )
    session.add(podcast)
    await session.flush()
    await session.refresh(podcast)
    return podcast


async def mirror_run_state(
    session: AsyncSession,
    podcast_id: uuid.UUID,
    state: RunState,
    *,
    workflow_id: str,
    run_id: str,
    now: datetime,
) -> None:
    """Write a run's state into its podcast: the workflow, not the API, owns the status."""
    values: dict[str, Any] = {
        "status": state.status,
        "progress": state.progress,
        "current_step": state.current_step,
        "error": state.error,
        "workflow_id": workflow_id,
        "workflow_run_id": run_id,
    }
    if state.lines_total is not None:
        values["lines_total"] = state.lines_total
    if state.lines_done is not None:
        values["lines_done"] = state.lines_done
    if state.admitted:
        values["started_at"] = now
        values["completed_at"] = None
    if state.status.finished:
        values["completed_at"] = now
    if state.title and state.title.strip():
        # A generated title fills a missing one; a title set meanwhile by its owner stays.
        values["title"] = func.coalesce(Podcast.title, clip_title(state.title))
    if state.status is PodcastStatus.COMPLETED and state.keep_results:
        pass  # a re-render that did not publish: the previous version stays as it was
    elif state.status is PodcastStatus.COMPLETED:
        values["version"] = (
            func.greatest(Podcast.version, 1) if state.version is None else state.version
        )
        if state.script is not None:
            values["script"] = [line.model_dump(mode="json") for line in state.script]
        values["audio_key"] = state.audio_key
        values["audio_duration"] = state.audio_duration
        values["audio_size_bytes"] = state.audio_size_bytes
        values["transcript"] = (
            [line.model_dump() for line in state.transcript] if state.transcript else None
        )
    elif state.status.finished:
        values.update(audio_key=None, audio_duration=None, audio_size_bytes=None)
    await session.execute(update(Podcast).where(Podcast.id == podcast_id).values(**values))


async def mark_not_started(session: AsyncSession, podcast_id: uuid.UUID, reason: str) -> None:
    """A run that could not be started (the workflow service unreachable): FAILED, why."""
    await session.execute(
        update(Podcast)
        .where(Podcast.id == podcast_id)
        .values(status=PodcastStatus.FAILED, error=reason, current_step="Not started")
    )


@dataclass(frozen=True)
class Outcome:
    """How a podcast's last run ended, kept while a retry starts (`restore`)."""

    status: PodcastStatus
    progress: int
    current_step: str | None
    error: str | None


def reset_for_retry(podcast: Podcast) -> Outcome:
    """Back to QUEUED for a new run, results of the previous run cleared; the outcome
    it had, for `restore` when the new run cannot start.

    `retry_count` is counted by `count_retry`, once the new run was started.
    """
    before = Outcome(podcast.status, podcast.progress, podcast.current_step, podcast.error)
    podcast.status = PodcastStatus.QUEUED
    podcast.progress = 0
    podcast.lines_done = podcast.lines_total = 0
    podcast.current_step = "Queued for retry"
    podcast.error = None
    podcast.audio_key = None
    podcast.audio_duration = None
    podcast.audio_size_bytes = None
    podcast.transcript = None
    podcast.started_at = None
    podcast.completed_at = None
    return before


async def restore(session: AsyncSession, podcast_id: uuid.UUID, outcome: Outcome) -> None:
    """A retry that could not start: the podcast reads as its last run ended."""
    await session.execute(
        update(Podcast)
        .where(Podcast.id == podcast_id, Podcast.status == PodcastStatus.QUEUED)
        .values(
            status=outcome.status,
            progress=outcome.progress,
            current_step=outcome.current_step,
            error=outcome.error,
        )
    )


async def discard(session: AsyncSession, podcast_id: uuid.UUID) -> None:
    """Remove a podcast that never was: its run was refused or could not start (no
    reservation, no charge, no audio), so neither it nor its Idempotency-Key is kept."""
    await session.execute(delete(Podcast).where(Podcast.id == podcast_id))


async def count_retry(session: AsyncSession, podcast_id: uuid.UUID) -> None:
    """One more retry of the podcast (counted in the database, safe against races)."""
    await session.execute(
        update(Podcast).where(Podcast.id == podcast_id).values(retry_count=Podcast.retry_count + 1)
    )


def update_details(podcast: Podcast, *, title: str | None, note_content: str | None) -> None:
    """Change what the owner may change; notes only while no run is making the podcast.

    Raises :class:`PodcastBusy` (changing nothing) when notes change during a run.
    """
    if note_content is not None:
        if not podcast.status.finished:
            raise PodcastBusy("Notes cannot change while the podcast is being made")
        podcast.note_content = note_content
    if title is not None:
        podcast.title = title


def soft_delete(podcast: Podcast, now: datetime) -> None:
    """Gone from every route from now on; the row stays for usage records and runs."""
    podcast.deleted_at = now


async def get_for_user(
    session: AsyncSession, user_id: uuid.UUID, podcast_id: str, *, for_update: bool = False
) -> Podcast | None:
    """The user's podcast, or None when it is missing, deleted or someone else's."""
    parsed = parse_id(podcast_id)
    if parsed is None:
        return None
    query = select(Podcast).where(
        Podcast.id == parsed, Podcast.user_id == user_id, Podcast.deleted_at.is_(None)
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def find_by_idempotency_key(
    session: AsyncSession, user_id: uuid.UUID, key: str
) -> Podcast | None:
    """The podcast this user created with this Idempotency-Key, deleted or not."""
    return await session.scalar(
        select(Podcast).where(Podcast.user_id == user_id, Podcast.idempotency_key == key)
    )


async def list_for_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    page: int,
    limit: int,
    status: PodcastStatus | None,
    sort: Literal["createdAt", "updatedAt"],
    order: Literal["asc", "desc"],
) -> tuple[list[Podcast], int]:
    conditions = [Podcast.user_id == user_id, Podcast.deleted_at.is_(None)]
    if status is not None:
        conditions.append(Podcast.status == status)
    column = Podcast.created_at if sort == "createdAt" else Podcast.updated_at
    ordering = column.asc() if order == "asc" else column.desc()
    total = await session.scalar(select(func.count()).select_from(Podcast).where(*conditions))
    rows = await session.scalars(
        select(Podcast)
        .where(*conditions)
        .order_by(ordering, Podcast.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def close_stranded(
    session: AsyncSession, podcast_id: uuid.UUID, status: PodcastStatus, error: str | None
) -> bool:
    """A podcast whose run ended without closing it (the reconciler): ``status`` with
    ``error``, no audio. False when it has moved on meanwhile (no longer being made)."""
    result = await session.execute(
        update(Podcast)
        .where(
            Podcast.id == podcast_id,
            Podcast.status.in_([PodcastStatus.QUEUED, PodcastStatus.PROCESSING]),
        )
        .values(
            status=status,
            error=error,
            current_step="Cancelled" if status is PodcastStatus.CANCELLED else "Failed",
            completed_at=func.now(),
            audio_key=None,
            audio_duration=None,
            audio_size_bytes=None,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def forget_audio(session: AsyncSession, podcast_id: uuid.UUID) -> None:
    """The podcast's audio is gone (deleted with the podcast): it no longer names any."""
    await session.execute(
        update(Podcast)
        .where(Podcast.id == podcast_id)
        .values(audio_key=None, audio_duration=None, audio_size_bytes=None)
    )


async def close_stranded_rerender(session: AsyncSession, podcast_id: uuid.UUID) -> bool:
    """A re-render whose run ended without closing it (the reconciler): the podcast reads
    COMPLETED again with the version it had (audio, transcript, script, usage untouched).
    False when it has moved on meanwhile."""
    result = await session.execute(
        update(Podcast)
        .where(
            Podcast.id == podcast_id,
            Podcast.status.in_([PodcastStatus.QUEUED, PodcastStatus.PROCESSING]),
            Podcast.audio_key.is_not(None),
        )
        .values(
            status=PodcastStatus.COMPLETED,
            progress=100,
            current_step="Re-render ended without publishing; previous version kept",
            completed_at=func.now(),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def expired_segments(
    session: AsyncSession, finished_before: datetime, now: datetime, limit: int
) -> list[uuid.UUID]:
    """Claim the COMPLETED podcasts whose last run finished before ``finished_before`` and
    whose segments have not been swept since: marked swept at ``now``, their ids returned
    for their segments to be removed."""
    claimed = await session.scalars(
        update(Podcast)
        .where(
            Podcast.id.in_(
                select(Podcast.id)
                .where(
                    Podcast.status == PodcastStatus.COMPLETED,
                    Podcast.deleted_at.is_(None),
                    Podcast.completed_at < finished_before,
                    (Podcast.segments_swept_at.is_(None))
                    | (Podcast.segments_swept_at < Podcast.completed_at),
                )
                .order_by(Podcast.completed_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .values(segments_swept_at=now)
        .returning(Podcast.id)
    )
    return list(claimed)
