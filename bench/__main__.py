"""Run the podnex benchmarks and write their results into bench/README.md.

    python -m bench                 # default sizes, about 20 minutes (what `make bench` runs)
    python -m bench --big           # more repeats, LONG sequential, 60-minute legacy combine
    python -m bench --only overhead,memory --repeats 5
    python -m bench --only orchestration    # podnex beside Celery + Redis (issue #20)

Every figure is measured beside its baseline in the same run; medians and ratios are
reported because these machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any

import httpx
import psycopg

from bench import profiling, report
from bench.engines import CLOUD_FIXED_SECONDS, CLOUD_SECONDS_PER_CHAR, ENGINES, ZeroCostEngine
from bench.noop import NOOP_QUEUE, NoopInput, NoopWorkflow
from bench.notes import bench_notes
from bench.stack import (
    ROOT,
    CeleryStack,
    RssSampler,
    Stack,
    cpu_seconds,
    peak_rss_bytes,
    redis_server,
    running_celery,
    running_stack,
)
from bench.stream import bench_stream
from podnex import pacing
from podnex.audio import LineAudio, combine_lines
from podnex.providers import SPEECH_PROVIDERS
from podnex.script.base import WriteRequest
from podnex.script.offline import AsyncOfflineWriter

ESPEAK_WPM = SPEECH_PROVIDERS["espeak"].words_per_minute
"""The speaking rate podnex's write_script gives the writer for espeak-ng (and for the
cloud-like and zero-cost engines, which register as espeak): the floor asks for the same."""
PHASES = ("overhead", "orchestration", "throughput", "api", "memory", "stream")
NOTES = bench_notes()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- helpers ----------------------------------------------------------------------------------


def plain_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def make_user(stack: Stack) -> str:
    """A BUSINESS user and its API key, made with podnex's own account code."""
    from podnex import accounts
    from podnex.db import Database
    from podnex.plans import Plan
    from podnex.settings import Settings

    async def create() -> str:
        db = Database(Settings(environment="test", database_url=stack.database_url))
        try:
            async with db.transaction() as session:
                user = await accounts.create_user(
                    session, email=f"bench-{uuid.uuid4().hex[:8]}@example.com", plan=Plan.BUSINESS
                )
                created = await accounts.create_api_key(session, user.id, "bench")
            return created.plaintext
        finally:
            await db.dispose()

    return asyncio.run(create())


async def wait_completed(
    conn: psycopg.AsyncConnection[Any],
    ids: list[str],
    limit_s: float = 900,
    every: float = 0.025,
    table: str = "podcasts",
) -> dict[str, float]:
    """Poll Postgres until every podcast is COMPLETED; return each one's completed_at.

    ``table``: ``celery_podcasts`` for the Celery baseline's podcasts.
    """
    deadline = time.monotonic() + limit_s
    wanted = [uuid.UUID(value) for value in ids]
    query = f"SELECT id, status::text, completed_at FROM {table} WHERE id = ANY(%s)"
    while True:
        rows = await (await conn.execute(query, (wanted,))).fetchall()  # type: ignore[arg-type]
        failed = [row for row in rows if row[1] in ("FAILED", "CANCELLED")]
        if failed:
            raise RuntimeError(f"podcasts did not complete: {failed[:3]}")
        done = {str(row[0]): row[2].timestamp() for row in rows if row[1] == "COMPLETED"}
        if len(done) == len(ids):
            return done
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(done)}/{len(ids)} podcasts completed in {limit_s}s")
        await asyncio.sleep(every)


async def post_podcast(
    http: httpx.AsyncClient, key: str, duration: str, answers: list[int] | None = None
) -> str:
    """POST one podcast; its id. 201 (admitted), or with ``answers`` also 202: accepted,
    the limit check not answered within the API's wait (the run goes on and decides), each
    status appended to ``answers``."""
    response = await http.post(
        "/api/v1/podcasts",
        headers={"Authorization": f"Bearer {key}"},
        json={"noteContent": NOTES, "duration": duration},
    )
    accepted = (201, 202) if answers is not None else (201,)
    if response.status_code not in accepted:
        raise RuntimeError(f"POST /podcasts answered {response.status_code}: {response.text}")
    if answers is not None:
        answers.append(response.status_code)
    return str(response.json()["data"]["id"])


SPEECH_ACTIVITIES = ("synthesize_line", "synthesize_lines")
"""A line an activity (runs from before speech in batches), or a batch of lines."""


async def activity_counts(stack: Stack, podcast_id: str) -> tuple[int, int]:
    """(activities, speech activities) in the podcast's workflow history."""
    from temporalio.client import Client

    client = await Client.connect(stack.temporal.address)
    history = await client.get_workflow_handle(f"podcast-{podcast_id}").fetch_history()
    names = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    ]
    return len(names), sum(names.count(name) for name in SPEECH_ACTIVITIES)


async def floor_run(
    engine: Any, duration: str, concurrency: int, limit: asyncio.Semaphore | None = None
) -> dict[str, float]:
    """The work alone: the same script writer, engine and combine, in this process.

    ``limit``: a speech limit shared with other runs (several podcasts at once), instead
    of one of ``concurrency`` of its own. Returns the seconds of each part and in all.
    """
    started = time.perf_counter()
    # At the espeak engine's speaking rate, as podnex's write_script asks the writer.
    request = WriteRequest(notes=NOTES, duration=duration, words_per_minute=ESPEAK_WPM)  # type: ignore[arg-type]
    script = await AsyncOfflineWriter().write(request)
    scripted = time.perf_counter()
    limit = limit or asyncio.Semaphore(concurrency)

    async def speak(speaker: str, text: str) -> bytes:
        async with limit:
            return (await engine.synthesize(text, speaker)).wav

    # Each distinct (voice, text) once, as podnex's content-addressed speech cache does.
    distinct = list(dict.fromkeys((line.speaker, line.text) for line in script.lines))
    spoken_once = await asyncio.gather(*(speak(speaker, text) for speaker, text in distinct))
    wavs = dict(zip(distinct, spoken_once, strict=True))
    spoken = time.perf_counter()
    # With the script's own pauses, as podnex's workflow gives combine (`podnex.pacing`).
    lines = [
        LineAudio(line.speaker, wavs[line.speaker, line.text], pause)
        for line, pause in zip(script.lines, pacing.pauses(script.lines), strict=True)
    ]
    combined = await asyncio.to_thread(combine_lines, lines)
    done = time.perf_counter()
    return {
        "total": done - started,
        "script": scripted - started,
        "speech": spoken - scripted,
        "combine": done - spoken,
        "audio_seconds": combined.duration_seconds,
    }


# -- 1. overhead of durability -----------------------------------------------------------------


async def podnex_run(stack: Stack, key: str, duration: str) -> tuple[float, str, dict[str, float]]:
    """POST one podcast; seconds from sending the POST to its COMPLETED record, its id, and
    where its time went (`critical_path`)."""
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http,
        await psycopg.AsyncConnection.connect(
            plain_url(stack.database_url), autocommit=True
        ) as conn,
    ):
        sent = time.time()
        podcast = await post_podcast(http, key, duration)
        done = await wait_completed(conn, [podcast])
    path = await critical_path(stack, podcast, sent)
    return done[podcast] - sent, podcast, path


async def critical_path(stack: Stack, podcast_id: str, sent: float) -> dict[str, float]:
    """Where one podcast's time went, from its workflow history (seconds).

    ``admission``: POST sent to the workflow's start; each step's run time (started to
    completed) summed by activity type, except lines, counted as the span from the first
    line's scheduling to the last line's completion; ``orchestration``: the rest of the run
    (workflow tasks, dispatch to the worker, the result's way back), i.e. the gaps between
    one step's completion and the next one's start.
    """
    from temporalio.client import Client

    client = await Client.connect(stack.temporal.address)
    history = await client.get_workflow_handle(f"podcast-{podcast_id}").fetch_history()
    names: dict[int, str] = {}
    started: dict[int, float] = {}
    parts: dict[str, float] = {}
    first_line = last_line = start = end = 0.0
    for event in history.events:
        at = event.event_time.ToDatetime().timestamp()
        start = start or at
        end = at
        if event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            names[event.event_id] = name
            if name in SPEECH_ACTIVITIES:
                first_line = first_line or at
        elif event.HasField("activity_task_started_event_attributes"):
            started[event.activity_task_started_event_attributes.scheduled_event_id] = at
        elif event.HasField("activity_task_completed_event_attributes"):
            origin = event.activity_task_completed_event_attributes.scheduled_event_id
            if names[origin] in SPEECH_ACTIVITIES:
                last_line = at
            else:
                parts[names[origin]] = parts.get(names[origin], 0.0) + at - started[origin]
    parts["synthesize_line (span)"] = last_line - first_line
    parts["orchestration (gaps)"] = (end - start) - sum(parts.values())
    parts["admission (POST to start)"] = start - sent
    parts["total (POST to close)"] = end - sent
    return parts


async def speech_span(stack: Stack, podcast_id: str) -> float:
    from temporalio.client import Client

    client = await Client.connect(stack.temporal.address)
    history = await client.get_workflow_handle(f"podcast-{podcast_id}").fetch_history()
    lines: set[int] = set()
    first = last = 0.0
    for event in history.events:
        at = event.event_time.ToDatetime().timestamp()
        if event.HasField("activity_task_scheduled_event_attributes"):
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            if name in SPEECH_ACTIVITIES:
                lines.add(event.event_id)
                first = first or at
        elif (
            event.HasField("activity_task_completed_event_attributes")
            and event.activity_task_completed_event_attributes.scheduled_event_id in lines
        ):
            last = at
    return last - first


def bench_overhead(stack: Stack, key: str, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"concurrency": args.speech_concurrency, "engines": {}}
    for engine_name in ("espeak", "cloud"):
        log(f"overhead: worker with the {engine_name} engine")
        stack.start_worker(engine_name)
        assert stack.worker is not None
        engine = ENGINES[engine_name]()
        per_engine: dict[str, Any] = {}
        for duration in ("SHORT", "LONG"):
            # SHORT first, after one unmeasured pair that warms the new worker and engine.
            warm = 1 if duration == "SHORT" else 0
            repeats = args.repeats if duration == "SHORT" else max(1, args.repeats - 1)
            if engine_name == "cloud" and duration == "LONG" and not args.big:
                repeats = 1
            podnex_s: list[float] = []
            podnex_speech: list[float] = []
            paths: list[dict[str, float]] = []
            floor_s: list[float] = []
            floor_parts: list[dict[str, float]] = []
            sequential: list[dict[str, float]] = []
            podcast_id = ""
            sampler = RssSampler(stack.worker.pid)
            with sampler:
                for attempt in range(warm + repeats):
                    seconds, podcast_id, path = asyncio.run(podnex_run(stack, key, duration))
                    span = path["synthesize_line (span)"]
                    parts = asyncio.run(floor_run(engine, duration, args.speech_concurrency))
                    if attempt >= warm:
                        podnex_s.append(seconds)
                        podnex_speech.append(span)
                        paths.append(path)
                        floor_s.append(parts["total"])
                        floor_parts.append(parts)
                    log(
                        f"  {engine_name} {duration}: podnex {seconds:.2f}s "
                        f"(lines {span:.2f}s), floor {parts['total']:.2f}s "
                        f"(lines {parts['speech']:.2f}s, combine {parts['combine']:.2f}s)"
                        + (" (warm-up)" if attempt < warm else "")
                    )
            if engine_name == "cloud" and (duration == "SHORT" or args.big):
                sequential.append(asyncio.run(floor_run(engine, duration, 1)))
                log(
                    f"  {engine_name} {duration}: sequential {sequential[-1]['total']:.2f}s "
                    f"(lines {sequential[-1]['speech']:.2f}s)"
                )
            activities, lines = asyncio.run(activity_counts(stack, podcast_id))
            per_engine[duration] = {
                "podnex": podnex_s,
                "podnex_speech": podnex_speech,
                "critical_path": {part: median(path[part] for path in paths) for part in paths[0]},
                "floor": floor_s,
                "floor_parts": floor_parts,
                "sequential": [run["total"] for run in sequential],
                "sequential_speech": [run["speech"] for run in sequential],
                "activities": activities,
                "lines": lines,
                "worker_peak_rss": sampler.peak_self,
                "worker_peak_rss_with_ffmpeg": sampler.peak_total,
            }
        per_engine["worker_vm_hwm"] = peak_rss_bytes(stack.worker.pid)
        results["engines"][engine_name] = per_engine
    return results


# -- 5. orchestration beside Celery + Redis (issue #20) ----------------------------------------

ORCHESTRATION_POLL_S = 0.1
"""Both systems' completions are read from their rows' completed_at, so the poll adds no
latency; one gentle poll for both, as their CPU counts it alike."""


def floor_cpu_seconds() -> float:
    """This process and its reaped children (the floor's ffmpeg): the floor's CPU."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def celery_cpu(stack: Stack, celery: CeleryStack) -> dict[str, float]:
    """Every process of the Celery system: Redis, each worker with its pool processes and
    their ffmpeg, the Postgres it shares with podnex, and this client."""
    found = {name: cpu_seconds(pid) for name, pid in celery.pids.items()}
    found["postgres"] = cpu_seconds(stack.postgres_pid)
    found["bench client"] = own_cpu_seconds()
    return found


async def audio_seconds(conn: psycopg.AsyncConnection[Any], table: str, ids: list[str]) -> float:
    """The median length of the podcasts' audio: the same work in every system."""
    query = f"SELECT audio_duration FROM {table} WHERE id = ANY(%s)"
    wanted = [uuid.UUID(value) for value in ids]
    rows = await (await conn.execute(query, (wanted,))).fetchall()  # type: ignore[arg-type]
    return float(median(row[0] for row in rows))


async def podnex_at_once(stack: Stack, key: str, count: int) -> dict[str, Any]:
    """``count`` SHORT podcasts POSTed at once; each one's seconds to COMPLETED."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=300, limits=limits) as http,
        await psycopg.AsyncConnection.connect(
            plain_url(stack.database_url), autocommit=True
        ) as conn,
    ):
        before = process_cpu(stack)
        sent = time.time()
        ids = list(await asyncio.gather(*(post_podcast(http, key, "SHORT") for _ in range(count))))
        done = await wait_completed(conn, ids, every=ORCHESTRATION_POLL_S)
        cpu = cpu_delta(before, process_cpu(stack))
        audio = await audio_seconds(conn, "podcasts", ids)
    latencies = [done[podcast] - sent for podcast in ids]
    return {"latencies": latencies, "makespan": max(latencies), "cpu": cpu, "audio": audio}


async def celery_at_once(stack: Stack, celery: CeleryStack, count: int) -> dict[str, Any]:
    """``count`` SHORT podcasts sent to the Celery pipeline at once, the same way."""
    from bench import celery_pipeline

    async with await psycopg.AsyncConnection.connect(
        plain_url(stack.database_url), autocommit=True
    ) as conn:
        with psycopg.connect(plain_url(stack.database_url), autocommit=True) as submit_conn:
            before = celery_cpu(stack, celery)
            sent = time.time()
            ids = [
                celery_pipeline.submit(submit_conn, NOTES, "SHORT", owner="bench")
                for _ in range(count)
            ]
            done = await wait_completed(
                conn, ids, every=ORCHESTRATION_POLL_S, table="celery_podcasts"
            )
            cpu = cpu_delta(before, celery_cpu(stack, celery))
        audio = await audio_seconds(conn, "celery_podcasts", ids)
    latencies = [done[podcast] - sent for podcast in ids]
    return {"latencies": latencies, "makespan": max(latencies), "cpu": cpu, "audio": audio}


async def floor_at_once(engine: Any, count: int, concurrency: int) -> dict[str, Any]:
    """``count`` floor runs at once in this process, sharing one speech limit."""
    limit = asyncio.Semaphore(concurrency)
    before = floor_cpu_seconds()
    runs = await asyncio.gather(
        *(floor_run(engine, "SHORT", concurrency, limit) for _ in range(count))
    )
    cpu = floor_cpu_seconds() - before
    latencies = [run["total"] for run in runs]
    return {
        "latencies": latencies,
        "makespan": max(latencies),
        "cpu": {"bench (floor)": cpu},
        "audio": median(run["audio_seconds"] for run in runs),
    }


async def podnex_trivial(stack: Stack, count: int, concurrency: int) -> dict[str, Any]:
    """``count`` no-op workflows of 3 sequential activities (`bench.noop`) at once."""
    from temporalio.client import Client

    client = await Client.connect(stack.temporal.address)
    before = process_cpu(stack)
    started = time.time()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                NoopWorkflow.run,
                NoopInput(3, 0, concurrency),
                id=f"bench-trivial-{uuid.uuid4().hex}",
                task_queue=NOOP_QUEUE,
            )
            for _ in range(count)
        )
    )
    steps = sum(await asyncio.gather(*(handle.result() for handle in handles)))
    elapsed = time.time() - started
    return {"elapsed": elapsed, "tasks": steps, "cpu": cpu_delta(before, process_cpu(stack))}


def celery_trivial(stack: Stack, celery: CeleryStack, count: int) -> dict[str, Any]:
    """``count`` chains of 3 no-op tasks at once, until every chain's result is in."""
    from bench import celery_pipeline

    before = celery_cpu(stack, celery)
    started = time.time()
    results = [celery_pipeline.trivial_chain() for _ in range(count)]
    steps = sum(result.get(timeout=300) for result in results)
    elapsed = time.time() - started
    return {"elapsed": elapsed, "tasks": steps, "cpu": cpu_delta(before, celery_cpu(stack, celery))}


def bench_orchestration(stack: Stack, key: str, args: argparse.Namespace) -> dict[str, Any]:
    """podnex beside the same pipeline on Celery + Redis and beside the floor (issue #20)."""
    from bench import celery_pipeline

    redis, why = redis_server()
    if redis is None:
        message = f"orchestration: Celery + Redis baseline skipped: {why}"
        log(message)
        return {"skipped": why}
    log("orchestration: podnex worker and Celery workers with the espeak engine")
    stack.start_worker("espeak", processes=args.worker_processes)
    engine = ENGINES["espeak"]()
    concurrency = args.speech_concurrency
    with running_celery(
        stack.work / "celery",
        redis,
        database_url=stack.database_url,
        engine="espeak",
        speech_concurrency=concurrency,
    ) as celery:
        celery_pipeline.use_broker(celery.broker)
        with psycopg.connect(plain_url(stack.database_url), autocommit=True) as conn:
            celery_pipeline.create_schema(conn)
        single: dict[str, list[Any]] = {name: [] for name in ("podnex", "celery", "floor")}
        # One unmeasured warm-up of each, then measured ones alternating.
        for attempt in range(1 + args.orchestration_repeats):
            podnex = asyncio.run(podnex_at_once(stack, key, 1))
            baseline = asyncio.run(celery_at_once(stack, celery, 1))
            floor = asyncio.run(floor_at_once(engine, 1, concurrency))
            warm = attempt == 0
            if not warm:
                for name, run in (("podnex", podnex), ("celery", baseline), ("floor", floor)):
                    single[name].append(run)
            log(
                f"  one SHORT: podnex {podnex['makespan']:.2f}s "
                f"({sum(podnex['cpu'].values()):.2f} CPU s), Celery {baseline['makespan']:.2f}s "
                f"({sum(baseline['cpu'].values()):.2f} CPU s), floor {floor['makespan']:.2f}s "
                f"({sum(floor['cpu'].values()):.2f} CPU s)" + (" (warm-up)" if warm else "")
            )
        count = args.at_once
        at_once: list[dict[str, Any]] = []
        for _ in range(args.at_once_rounds):
            round_ = {
                "podnex": asyncio.run(podnex_at_once(stack, key, count)),
                "celery": asyncio.run(celery_at_once(stack, celery, count)),
                "floor": asyncio.run(floor_at_once(engine, count, concurrency)),
            }
            at_once.append(round_)
            log(
                f"  {count} SHORT at once: "
                + ", ".join(
                    f"{name} {run['makespan']:.1f}s (max/median latency "
                    f"{max(run['latencies']) / median(run['latencies']):.2f}, "
                    f"{sum(run['cpu'].values()) / count:.2f} CPU s a podcast)"
                    for name, run in round_.items()
                )
            )
        trivial: list[dict[str, Any]] = []
        pipelines = args.trivial_pipelines
        asyncio.run(podnex_trivial(stack, min(pipelines, 20), concurrency))  # warm-up
        celery_trivial(stack, celery, min(pipelines, 20))
        for _ in range(args.orchestration_repeats):
            round_ = {
                "podnex": asyncio.run(podnex_trivial(stack, pipelines, concurrency)),
                "celery": celery_trivial(stack, celery, pipelines),
            }
            trivial.append(round_)
            log(
                f"  {pipelines} trivial 3-step pipelines at once: "
                + ", ".join(
                    f"{name} {run['elapsed']:.2f}s ({pipelines / run['elapsed']:.1f} a second)"
                    for name, run in round_.items()
                )
            )
    from bench.stack import CELERY_MAIN_CONCURRENCY

    return {
        "speech_concurrency": concurrency,
        "celery_main_concurrency": CELERY_MAIN_CONCURRENCY,
        "repeats": args.orchestration_repeats,
        "worker_processes": args.worker_processes,
        "at_once_count": count,
        "trivial_pipelines": pipelines,
        "single": single,
        "at_once": at_once,
        "trivial": trivial,
    }


# -- 2. throughput -------------------------------------------------------------------------------


def process_cpu(stack: Stack) -> dict[str, float]:
    assert stack.api is not None and stack.worker is not None
    return {
        "temporal": cpu_seconds(stack.temporal.process.pid),
        "postgres": cpu_seconds(stack.postgres_pid),
        "api": cpu_seconds(stack.api.pid),
        "worker": sum(cpu_seconds(pid) for pid in stack.worker_pids),
        "bench client": own_cpu_seconds(),
    }


def own_cpu_seconds() -> float:
    """This process alone: its children include the Temporal and Postgres servers."""
    times = os.times()
    return times.user + times.system


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


async def history_profile(stack: Stack, ids: list[str]) -> dict[str, dict[str, float]]:
    """Per activity type: count, mean schedule-to-start and start-to-close (ms)."""
    from temporalio.client import Client

    client = await Client.connect(stack.temporal.address)
    totals: dict[str, dict[str, float]] = {}
    for podcast_id in ids:
        history = await client.get_workflow_handle(f"podcast-{podcast_id}").fetch_history()
        scheduled: dict[int, tuple[str, float]] = {}
        started: dict[int, float] = {}
        for event in history.events:
            at = event.event_time.ToDatetime().timestamp()
            if event.HasField("activity_task_scheduled_event_attributes"):
                name = event.activity_task_scheduled_event_attributes.activity_type.name
                scheduled[event.event_id] = (name, at)
            elif event.HasField("activity_task_started_event_attributes"):
                origin = event.activity_task_started_event_attributes.scheduled_event_id
                started[origin] = at
            elif event.HasField("activity_task_completed_event_attributes"):
                origin = event.activity_task_completed_event_attributes.scheduled_event_id
                name, scheduled_at = scheduled[origin]
                entry = totals.setdefault(name, {"count": 0, "queue_ms": 0.0, "run_ms": 0.0})
                entry["count"] += 1
                entry["queue_ms"] += (started[origin] - scheduled_at) * 1000
                entry["run_ms"] += (at - started[origin]) * 1000
            elif event.HasField("workflow_task_completed_event_attributes"):
                entry = totals.setdefault(
                    "(workflow tasks)", {"count": 0, "queue_ms": 0.0, "run_ms": 0.0}
                )
                entry["count"] += 1
    return totals


def bench_throughput(stack: Stack, key: str, args: argparse.Namespace) -> dict[str, Any]:
    from temporalio.client import Client

    log("throughput: worker with the zero-cost engine")
    stack.start_worker("zero")
    count = args.podcasts
    rounds: list[dict[str, Any]] = []

    async def podnex_round() -> dict[str, Any]:
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        async with (
            httpx.AsyncClient(base_url=stack.api_url, timeout=300, limits=limits) as http,
            await psycopg.AsyncConnection.connect(
                plain_url(stack.database_url), autocommit=True
            ) as conn,
        ):
            assert stack.worker is not None
            raw = stack.work / f"worker-podnex-{uuid.uuid4().hex[:6]}.txt"
            spy = profiling.start(stack.worker.pid, None, raw)
            before = process_cpu(stack)
            sent = time.time()
            # A burst this size can outlast the API's wait for the limit check: 202s count.
            answers: list[int] = []
            ids = list(
                await asyncio.gather(
                    *(post_podcast(http, key, "SHORT", answers) for _ in range(count))
                )
            )
            admitted = time.time() - sent
            # completed_at, not the poll, ends the clock: poll gently, the CPU is shared.
            done = await wait_completed(conn, ids, every=0.5)
            elapsed = max(done.values()) - sent
            cpu = cpu_delta(before, process_cpu(stack))
            profiling.stop(spy)
        activities, _ = await activity_counts(stack, ids[0])
        return {
            "elapsed": elapsed,
            "admitted_in": admitted,
            "answered_202": answers.count(202),
            "activities": activities * count,
            "per_podcast": activities,
            "cpu": cpu,
            "ids": ids,
            "worker_profile": profiling.summarise(raw),
        }

    async def noop_round(sequential: int, parallel: int) -> dict[str, Any]:
        client = await Client.connect(stack.temporal.address)
        assert stack.worker is not None
        raw = stack.work / f"worker-noop-{uuid.uuid4().hex[:6]}.txt"
        spy = profiling.start(stack.worker.pid, None, raw)
        before = process_cpu(stack)
        started = time.time()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    NoopWorkflow.run,
                    NoopInput(sequential, parallel, args.speech_concurrency),
                    id=f"bench-noop-{uuid.uuid4().hex}",
                    task_queue=NOOP_QUEUE,
                )
                for _ in range(count)
            )
        )
        results = await asyncio.gather(*(handle.result() for handle in handles))
        elapsed = time.time() - started
        cpu = cpu_delta(before, process_cpu(stack))
        profiling.stop(spy)
        return {
            "elapsed": elapsed,
            "activities": sum(results),
            "cpu": cpu,
            "worker_profile": profiling.summarise(raw),
        }

    # Warm both paths with a few runs first.
    asyncio.run(_warm(stack, key))
    for index in range(args.throughput_rounds):
        podnex = asyncio.run(podnex_round())
        log(
            f"  podnex: {count} podcasts in {podnex['elapsed']:.1f}s "
            f"({podnex['activities'] / podnex['elapsed']:.0f} activities/s)"
        )
        lines = podnex["per_podcast"] - _non_line_activities(stack, podnex["ids"][0])
        noop = asyncio.run(noop_round(podnex["per_podcast"] - lines, lines))
        log(
            f"  no-op workflow: {count} workflows in {noop['elapsed']:.1f}s "
            f"({noop['activities'] / noop['elapsed']:.0f} activities/s)"
        )
        if index == args.throughput_rounds - 1:
            podnex["profile"] = asyncio.run(history_profile(stack, podnex["ids"]))
        podnex.pop("ids")
        rounds.append({"podnex": podnex, "noop": noop, "lines": lines})
    return {"podcasts": count, "rounds": rounds}


def _non_line_activities(stack: Stack, podcast_id: str) -> int:
    activities, lines = asyncio.run(activity_counts(stack, podcast_id))
    return activities - lines


async def _warm(stack: Stack, key: str) -> None:
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http,
        await psycopg.AsyncConnection.connect(
            plain_url(stack.database_url), autocommit=True
        ) as conn,
    ):
        ids = [await post_podcast(http, key, "SHORT") for _ in range(3)]
        await wait_completed(conn, ids)


# -- 3. API latency ----------------------------------------------------------------------------


def run_locust(
    stack: Stack,
    key: str,
    target: str,
    users: int,
    rate: float,
    seconds: int,
    ids: list[str],
    profile_to: Path | None = None,
    keys: list[str] | None = None,
) -> dict[str, Any]:
    """One headless locust run; with ``profile_to``, py-spy samples the API meanwhile."""
    assert stack.api is not None
    locust = Path(sys.executable).parent / "locust"
    with tempfile.TemporaryDirectory(prefix="podnex-locust-") as out:
        prefix = Path(out) / "run"
        notes = Path(out) / "notes.md"
        notes.write_text(NOTES)
        command = [
            *(str(locust), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless"),
            *("--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s"),
            *("--host", stack.api_url, "--csv", str(prefix), "--only-summary"),
            *("--loglevel", "WARNING", "--stop-timeout", "30"),
        ]
        env = {
            **os.environ,
            "BENCH_TARGET": target,
            "BENCH_KEY": key,
            "BENCH_KEYS": ",".join(keys or []),
            "BENCH_IDS": ",".join(ids),
            "BENCH_RATE": str(rate),
            "BENCH_NOTES": str(notes),
        }
        before = cpu_seconds(stack.api.pid)
        runner = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        spy = None
        if profile_to is not None:
            time.sleep(2)  # locust's start-up and spawn
            spy = profiling.start(stack.api.pid, seconds - 3, profile_to)
        runner.wait(timeout=seconds + 120)
        if spy is not None:
            spy.wait(timeout=60)
        api_cpu = cpu_seconds(stack.api.pid) - before
        rows = (prefix.parent / "run_stats.csv").read_text().splitlines()
    import csv

    row = next(item for item in csv.DictReader(rows) if item["Name"] == "Aggregated")
    requests = int(row["Request Count"])
    return {
        "target": target,
        "users": users,
        "offered_rps": users * rate,
        "requests": requests,
        "failures": int(row["Failure Count"]),
        "rps": float(row["Requests/s"]),
        "p50": float(row["50%"]),
        "p95": float(row["95%"]),
        "p99": float(row["99%"]),
        "max": float(row["Max Response Time"]),
        "api_cpu_ms_per_request": api_cpu / max(1, requests) * 1000,
    }


def bench_api(stack: Stack, key: str, args: argparse.Namespace) -> dict[str, Any]:
    log("api: worker with the cloud-like engine (running podcasts for the live status)")
    stack.start_worker("cloud")

    async def finished_ids() -> list[str]:
        """Up to 20 completed podcasts: earlier phases' or, run alone, four made now."""
        async with (
            httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http,
            await psycopg.AsyncConnection.connect(
                plain_url(stack.database_url), autocommit=True
            ) as conn,
        ):
            response = await http.get(
                "/api/v1/podcasts?limit=100&status=COMPLETED",
                headers={"Authorization": f"Bearer {key}"},
            )
            ids = [item["id"] for item in response.json()["data"]][:20]
            if not ids:
                ids = [await post_podcast(http, key, "SHORT") for _ in range(4)]
                await wait_completed(conn, ids)
            return ids

    async def running_ids() -> list[str]:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http:
            return [await post_podcast(http, key, "LONG") for _ in range(4)]

    finished = asyncio.run(finished_ids())
    # One account a user, to tell per-key contention from per-request cost.
    many_keys = [make_user(stack) for _ in range(50)]
    seconds = args.api_seconds
    rate = args.api_rate
    results = []
    profiles: dict[str, Any] = {}
    scenarios = [
        ("health", "health", 50, rate),
        ("status (running: Temporal query)", "status", 50, rate),
        ("status (finished: Postgres)", "status", 50, rate),
        ("list", "list", 50, rate),
        ("profile (one API key)", "profile", 50, rate),
        ("profile (50 API keys)", "profile", 50, rate),
        ("health", "health", 10, 1.0),
        ("create", "create", 10, 1.0),
    ]
    for profile in (False, True):
        for label, target, users, per_user in scenarios:
            if profile and target in ("health", "profile"):
                continue
            ids = asyncio.run(running_ids()) if "running" in label else finished
            raw = stack.work / f"api-{target}-{len(profiles)}.txt" if profile else None
            keys = many_keys if "50 API keys" in label else None
            result = run_locust(stack, key, target, users, per_user, seconds, ids, raw, keys)
            result["label"] = label
            if raw is not None:
                profiles[label] = {
                    **profiling.summarise(raw),
                    "p99": result["p99"],
                    "api_cpu_ms_per_request": result["api_cpu_ms_per_request"],
                }
                log(f"  profiled {label}: {profiles[label].get('samples', 0)} samples")
                continue
            results.append(result)
            log(
                f"  {label} x{users}: p50 {result['p50']:.0f} p95 {result['p95']:.0f} "
                f"p99 {result['p99']:.0f} ms, {result['failures']} errors of "
                f"{result['requests']}, API CPU {result['api_cpu_ms_per_request']:.1f} ms/request"
            )
        asyncio.run(_terminate_running(stack))
    return {"seconds": seconds, "results": results, "profiles": profiles}


async def _terminate_running(stack: Stack) -> None:
    """End what the create scenario left running, so the next phase starts clean."""
    from temporalio.client import Client
    from temporalio.service import RPCError

    client = await Client.connect(stack.temporal.address)
    async for execution in client.list_workflows("ExecutionStatus='Running'"):
        # Visibility lags: a run listed as running may have closed since.
        with contextlib.suppress(RPCError):
            await client.get_workflow_handle(execution.id).terminate("benchmark phase over")


# -- 4. memory and scale ---------------------------------------------------------------------


def bench_memory(args: argparse.Namespace) -> dict[str, Any]:
    log("memory: combine time and memory by episode length")
    from podnex.speech.espeak import EspeakEngine

    with tempfile.TemporaryDirectory(prefix="podnex-pool-") as pool_dir:
        pool = Path(pool_dir)

        async def make_pool() -> None:
            script = await AsyncOfflineWriter().write(WriteRequest(notes=NOTES, duration="LONG"))
            engine = EspeakEngine()
            for index, line in enumerate(script.lines):
                audio = await engine.synthesize(line.text, "host" if index % 2 == 0 else "guest")
                (pool / f"{index:04d}.wav").write_bytes(audio.wav)

        asyncio.run(make_pool())
        runs = []
        sizes = [float(size) for size in args.minutes.split(",")]
        legacy_sizes = [float(size) for size in args.legacy_minutes.split(",") if size]
        for minutes in sizes:
            for impl in ("new", "legacy"):
                if impl == "legacy" and minutes not in legacy_sizes:
                    continue
                output = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.combine_scale",
                        "--impl",
                        impl,
                        "--minutes",
                        str(minutes),
                        "--pool",
                        str(pool),
                    ],
                    cwd=ROOT,
                    capture_output=True,
                    check=True,
                    text=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                run = json.loads(output.stdout.strip().splitlines()[-1])
                runs.append(run)
                log(
                    f"  {impl} {minutes:g} min: {run['seconds']:.2f}s, "
                    f"peak RSS {run['rss_peak'] / 2**20:.0f} MB "
                    f"(ffmpeg {run['ffmpeg_peak'] / 2**20:.0f} MB), {run['lufs']:.1f} LUFS"
                )
    return {"runs": runs}


# -- main ----------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "temporal": subprocess.run(
            [str(Path(sys.executable).parent / "temporal"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip(),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--only", default=",".join(PHASES), help="phases, comma-separated")
    parser.add_argument("--big", action="store_true", help="more repeats and bigger sizes")
    parser.add_argument("--repeats", type=int, default=3, help="measured SHORT runs a pair")
    parser.add_argument("--podcasts", type=int, default=100, help="throughput: podcasts at once")
    parser.add_argument("--throughput-rounds", type=int, default=1)
    parser.add_argument("--api-seconds", type=int, default=10, help="each load scenario")
    parser.add_argument(
        "--api-rate", type=float, default=1.0, help="requests/s per user (a 1 s poller)"
    )
    parser.add_argument("--minutes", default="1,5,15,30,60", help="combine sizes (minutes)")
    parser.add_argument("--legacy-minutes", default="1,5,15", help="sizes for the old combine")
    parser.add_argument("--speech-concurrency", type=int, default=8)
    parser.add_argument(
        "--orchestration-repeats",
        type=int,
        default=5,
        help="orchestration: alternating one-podcast runs (and trivial rounds) of each system",
    )
    parser.add_argument(
        "--at-once", type=int, default=20, help="orchestration: SHORT podcasts at once"
    )
    parser.add_argument(
        "--at-once-rounds", type=int, default=1, help="orchestration: rounds of --at-once"
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="orchestration: podnex worker processes on the same task queues (default: one "
        "a core, as a deployment of CPU-bound steps runs them, and as Celery's prefork pools)",
    )
    parser.add_argument(
        "--trivial-pipelines",
        type=int,
        default=100,
        help="orchestration: trivial 3-step pipelines at once",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-readme", action="store_true", help="leave bench/README.md alone")
    args = parser.parse_args(argv)
    if args.big:
        args.repeats = max(args.repeats, 5)
        args.throughput_rounds = max(args.throughput_rounds, 2)
        args.api_seconds = max(args.api_seconds, 30)
        args.legacy_minutes = "1,5,15,30,60"
        args.at_once_rounds = max(args.at_once_rounds, 5)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    phases = [phase.strip() for phase in args.only.split(",") if phase.strip()]
    started = time.monotonic()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench"
        if os.environ.get("PODNEX_BENCH_FROM_MAKE")
        else "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "cloud_model": {"fixed_s": CLOUD_FIXED_SECONDS, "per_char_s": CLOUD_SECONDS_PER_CHAR},
        "zero_text": ZeroCostEngine.TEXT,
    }
    if any(
        phase in phases for phase in ("overhead", "orchestration", "throughput", "api", "stream")
    ):
        with (
            tempfile.TemporaryDirectory(prefix="podnex-bench-") as work,
            running_stack(Path(work), speech_concurrency=args.speech_concurrency) as stack,
        ):
            key = make_user(stack)
            if "overhead" in phases:
                results["overhead"] = bench_overhead(stack, key, args)
            if "orchestration" in phases:
                results["orchestration"] = bench_orchestration(stack, key, args)
            if "throughput" in phases:
                results["throughput"] = bench_throughput(stack, key, args)
            if "api" in phases:
                results["api"] = bench_api(stack, key, args)
            if "stream" in phases:
                log("stream: a LONG podcast listened to while it is made (cloud-like engine)")
                results["stream"] = bench_stream(stack, key, NOTES)
    if "memory" in phases:
        results["memory"] = bench_memory(args)
    results["runtime_s"] = time.monotonic() - started
    args.json.write_text(json.dumps(results, indent=2))
    if not args.no_readme:
        report.write_readme(results, ROOT / "bench" / "README.md")
    log(f"done in {results['runtime_s']:.0f}s; results in {args.json}")
    sys.stdout.flush()
    # temporalio can abort the interpreter at exit (sdk-python issue 300): leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
