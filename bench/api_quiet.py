"""The API's latency with nothing else busy: `python -m bench.api_quiet`.

The `make bench` API phase runs locust beside the API on the same two cores while the
worker makes LONG podcasts (the running-status scenario needs runs in flight), so its
latencies are mostly the machine's queue. This check keeps everything else quiet: a few
SHORT podcasts are made, the worker is stopped, then 50 asyncio clients in this process,
each pacing itself to one request a second, call one route for a while; the API's CPU
per request comes from /proc as in the main benchmark. Not a replacement for an external
load generator on separate cores; a floor to compare the loaded figures with.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from bench.__main__ import make_user, plain_url, post_podcast, wait_completed
from bench.stack import Stack, cpu_seconds, running_stack


async def paced_load(
    http: httpx.AsyncClient,
    stack: Stack,
    path: str,
    headers: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, float]:
    """``args.users`` clients, one request a second each, for ``args.seconds``."""
    latencies: list[float] = []

    async def user(index: int) -> None:
        await asyncio.sleep(index / args.users)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            sent = time.perf_counter()
            response = await http.get(path, headers=headers)
            latencies.append((time.perf_counter() - sent) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - sent)))

    assert stack.api is not None
    before = cpu_seconds(stack.api.pid)
    await asyncio.gather(*(user(index) for index in range(args.users)))
    used = cpu_seconds(stack.api.pid) - before
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "p50": latencies[count // 2],
        "p95": latencies[int(count * 0.95)],
        "p99": latencies[int(count * 0.99)],
        "api_cpu_ms_per_request": used / count * 1000,
    }


async def measure(stack: Stack, key: str, args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=args.users + 10)
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=60, limits=limits) as http,
        await psycopg.AsyncConnection.connect(
            plain_url(stack.database_url), autocommit=True
        ) as conn,
    ):
        ids = [await post_podcast(http, key, "SHORT") for _ in range(3)]
        await wait_completed(conn, ids)
        stack.stop_worker()
        routes = {
            "health": "/api/health",
            "profile": "/api/v1/user/profile",
            "status (finished)": f"/api/v1/podcasts/{ids[0]}/status",
            "list": "/api/v1/podcasts",
        }
        print(f"{args.users} clients, one request a second each, {args.seconds} s a route")
        for name, path in routes.items():
            result = await paced_load(http, stack, path, headers, args)
            print(
                f"{name:18s} {result['requests']:4.0f} requests  p50 {result['p50']:6.1f}  "
                f"p95 {result['p95']:6.1f}  p99 {result['p99']:6.1f} ms  "
                f"API CPU {result['api_cpu_ms_per_request']:.2f} ms/request"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with running_stack(
        Path(tempfile.mkdtemp(prefix="podnex-bench-")), speech_concurrency=8
    ) as stack:
        stack.start_worker("espeak")
        asyncio.run(measure(stack, make_user(stack), args))


if __name__ == "__main__":
    main()
