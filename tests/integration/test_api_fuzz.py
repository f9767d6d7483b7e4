"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis).

Every operation in /schema/openapi.json gets requests generated from its documented
parameters and bodies: valid ones (positive mode) and invalid ones (negative mode). Each
answer must not be a 5xx, must have a documented status code and content type, and must
match the documented schema of that status.

How it runs, and why:

- Against the real stack: a uvicorn server of the real app, real Postgres, the real
  Temporal dev server and the in-process worker (the `worker` fixture), so that a valid
  `POST /api/v1/podcasts` is admitted by a real workflow and a podcast is really made.
  Litestar's in-process ASGI client would miss what uvicorn and the network layer add.
- schemathesis and hypothesis are synchronous (`requests`), while uvicorn and the worker
  run in this test's event loop; the fuzz runs in a worker thread so the loop keeps
  serving it.
- The server has rate limiting off (RATE_LIMIT_PER_MINUTE=0 and
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE=0): the fuzz sends a few
  hundred requests a minute with one key, which would otherwise be answered 429
  (documented, and tested in test_api_hardening.py).
- One completed podcast is made first; operations on `{podcast_id}` are fuzzed both with
  generated ids (404s) and with that podcast's id (its real answers), deletion last.
- Bounded: a few examples per operation and mode, no shrinking, and a time budget after
  which remaining operations are skipped (reported in the output). Podcasts the fuzz
  started are cancelled at the end so they do not load the rest of the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError

from api.app import create_app
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus
from podnex.plans import Plan
from podnex.settings import Settings
from podnex.temporal import workflow_id_for
from tests.conftest import make_user, serve
from tests.integration.notes import NOTES

pytestmark = pytest.mark.timeout(240)

BUDGET_SECONDS = 75.0
"""Wall-clock budget of the fuzz itself; operations not started by then are skipped."""

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 12}
"""Examples per operation and mode."""

EXAMPLES_ON_REAL_PODCAST = 6
"""Examples per `{podcast_id}` operation aimed at the real podcast."""

CREATE_POSITIVE_EXAMPLES = 4
"""Valid creates start real podcasts (seconds of CPU each): keep them few."""

CONFORMANCE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
POSITIVE_CHECKS = [*CONFORMANCE_CHECKS, ignored_auth]
"""Valid requests: also, a route that declares BearerAuth refuses them without a key."""
NEGATIVE_CHECKS = CONFORMANCE_CHECKS
"""Invalid requests: no 5xx and only documented answers.

schemathesis's `negative_data_rejection` (every invalid request refused with a 4xx) is
not applied: the API ignores unknown query parameters by design, as HTTP APIs commonly
do, and this test adds the Authorization header to every request, so a case that drops
the header still carries it. Invalid bodies and values are refused with exact 400s in
test_api_errors.py and the route tests.
"""


@dataclass
class FuzzReport:
    """What the fuzz did: requests per operation, failures, operations skipped."""

    requests: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{count:4d} requests  {label}" for label, count in self.requests.items()]
        lines.append(f"total {sum(self.requests.values())} requests")
        if self.skipped:
            lines.append(f"skipped (budget): {', '.join(self.skipped)}")
        return "\n".join(lines)


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    call: Callable[[Any, list[Any]], None],
    checks: list[Any],
    path_parameters: dict[str, str] | None = None,
) -> int:
    """Run one operation in one mode; returns how many requests were sent."""
    sent = 0

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        call(case, checks)

    with contextlib.suppress(Unsatisfiable):  # nothing to generate (e.g. no inputs)
        run()
    return sent


def run_fuzz(base_url: str, api_key: str, podcast_id: str) -> FuzzReport:
    """The whole fuzz, synchronously (called in a worker thread)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {api_key}"}
    report = FuzzReport()
    deadline = time.monotonic() + BUDGET_SECONDS

    def call(case: Any, checks: list[Any]) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=60)

    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is broken
        operations.append(result.ok())
    operations.sort(key=lambda op: (op.path, op.method))
    plans: list[tuple[Any, GenerationMode, int, dict[str, str] | None]] = []
    for operation in operations:
        create = operation.method.upper() == "POST" and operation.path == "/api/v1/podcasts"
        for mode, examples in EXAMPLES.items():
            if create and mode is GenerationMode.POSITIVE:
                examples = CREATE_POSITIVE_EXAMPLES
            plans.append((operation, mode, examples, None))
    plans += [
        (operation, GenerationMode.POSITIVE, EXAMPLES_ON_REAL_PODCAST, {"podcast_id": podcast_id})
        for operation in operations
        if "{podcast_id}" in operation.path
    ]
    # Deleting the real podcast ends what can be done with it: do that last.
    plans.sort(key=lambda plan: plan[0].method.upper() == "DELETE" and plan[3] is not None)

    for operation, mode, examples, path_parameters in plans:
        label = f"{operation.label} [{mode.value}{', real id' if path_parameters else ''}]"
        if time.monotonic() > deadline:
            report.skipped.append(label)
            continue
        checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
        try:
            report.requests[label] = _fuzz_operation(
                operation, mode, examples, call, checks, path_parameters
            )
        except (Exception, FailureGroup) as exc:  # a FailureGroup is a BaseExceptionGroup
            report.failures.append(f"{label}: {exc}")
    return report


async def _completed_podcast(base_url: str, headers: dict[str, str]) -> str:
    """A podcast made through the API, waited for until it is COMPLETED."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        created = await client.post(
            "/api/v1/podcasts", headers=headers, json={"noteContent": NOTES}
        )
        assert created.status_code == 201, created.text
        podcast_id: str = created.json()["data"]["id"]
        for _ in range(240):
            status = await client.get(f"/api/v1/podcasts/{podcast_id}/status", headers=headers)
            if status.json()["data"]["status"] == "COMPLETED":
                return podcast_id
            await asyncio.sleep(0.25)
    raise AssertionError(f"podcast {podcast_id} did not complete")


async def _cancel_unfinished(db: Database, client: Client, user_id: Any) -> None:
    """Cancel the runs of podcasts the fuzz started that are still being made."""
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Podcast.id).where(
                Podcast.user_id == user_id,
                Podcast.status.in_([PodcastStatus.QUEUED, PodcastStatus.PROCESSING]),
            )
        )
        unfinished = [str(podcast_id) for podcast_id in rows]
    for podcast_id in unfinished:
        try:
            await client.get_workflow_handle(workflow_id_for(podcast_id)).cancel()
        except RPCError:  # already closed, or never started
            continue


async def test_fuzz_finds_no_server_errors_and_no_undocumented_answers(
    settings: Settings, db: Database, worker: object, temporal_client: Client
) -> None:
    fuzz_user = await make_user(db, Plan.BUSINESS)
    app = create_app(
        settings.model_copy(
            update={"rate_limit_per_minute": 0, "rate_limit_per_address_per_minute": 0}
        )
    )
    async with serve(app) as live:
        podcast_id = await _completed_podcast(live.base_url, fuzz_user.headers)
        started = time.monotonic()
        try:
            report = await asyncio.to_thread(run_fuzz, live.base_url, fuzz_user.key, podcast_id)
        finally:
            await _cancel_unfinished(db, temporal_client, fuzz_user.id)
        elapsed = time.monotonic() - started
    print(f"\nschemathesis fuzz: {elapsed:.1f} s\n{report.summary()}")
    assert not report.failures, "\n\n".join(report.failures)
    assert sum(report.requests.values()) > 0
