"""The real podnex worker (`worker.build_deps`, `worker.build_worker`) with a benchmark
speech engine, plus the no-op baseline's workers, in one process.

    python -m bench.worker_main --engine cloud --ready-file PATH

Settings come from the environment as for `python worker.py`. The ready file is written
once every worker polls; SIGTERM or SIGINT stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from temporalio.worker import Worker

import worker as worker_module
from bench.engines import ENGINES
from bench.noop import NOOP_FANOUT_QUEUE, NOOP_QUEUE, NoopWorkflow, noop
from podnex.logging import configure_logging
from podnex.providers import SPEECH_PROVIDERS
from podnex.settings import get_settings
from podnex.speech import espeak
from podnex.temporal import connect


async def serve(engine_name: str, ready_file: Path) -> None:
    settings = get_settings()
    configure_logging(settings)
    client = await connect(settings)
    deps = worker_module.build_deps(settings)
    # espeak as the real worker has it (ESPEAK_PROCESSES); the other engines' own.
    engine = (
        SPEECH_PROVIDERS["espeak"].create(settings)
        if engine_name == "espeak"
        else ENGINES[engine_name]()
    )
    deps.engines = {"espeak": engine}
    await worker_module.warm_up_engines(deps)
    podnex_workers = worker_module.build_worker(client, settings, deps)
    # The baseline gets the same caps as podnex: the main worker's activity slots, and
    # the speech worker's for the fan-out.
    concurrency, _ = SPEECH_PROVIDERS["espeak"].task_limits(settings)
    baseline = worker_module.WorkerGroup(
        [
            Worker(
                client,
                task_queue=NOOP_QUEUE,
                workflows=[NoopWorkflow],
                activities=[noop],
                max_concurrent_activities=settings.worker_max_concurrent_activities,
            ),
            Worker(
                client,
                task_queue=NOOP_FANOUT_QUEUE,
                activities=[noop],
                max_concurrent_activities=concurrency,
            ),
        ]
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with podnex_workers, baseline:
            await asyncio.to_thread(ready_file.write_text, str(os.getpid()))
            await stop.wait()
    finally:
        await asyncio.to_thread(espeak.shutdown)
        await deps.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=sorted(ENGINES), required=True)
    parser.add_argument("--ready-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.engine, args.ready_file))
    # temporalio can abort the interpreter at exit (sdk-python issue 300): leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
