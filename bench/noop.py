"""The throughput baseline: a minimal Temporal workflow of no-op activities.

It has the podcast workflow's shape and nothing else: ``sequential`` no-op activities one
after another on the main task queue, then ``parallel`` no-op activities fanned out at
most ``concurrency`` at a time on a second task queue (as lines go to the speech queue).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

NOOP_QUEUE = "bench-noop"
NOOP_FANOUT_QUEUE = "bench-noop-fanout"


@dataclass
class NoopInput:
    sequential: int
    parallel: int
    concurrency: int


@activity.defn(name="bench_noop")
async def noop(index: int) -> int:
    return index


@workflow.defn(name="BenchNoopWorkflow")
class NoopWorkflow:
    @workflow.run
    async def run(self, params: NoopInput) -> int:
        timeout = timedelta(seconds=30)
        for index in range(params.sequential):
            await workflow.execute_activity(noop, index, start_to_close_timeout=timeout)
        limit = asyncio.Semaphore(params.concurrency)

        async def one(index: int) -> int:
            async with limit:
                return await workflow.execute_activity(
                    noop, index, task_queue=NOOP_FANOUT_QUEUE, start_to_close_timeout=timeout
                )

        done = await asyncio.gather(*(one(index) for index in range(params.parallel)))
        return len(done) + params.sequential
