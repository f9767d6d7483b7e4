"""Sampling profiles of the benchmarked processes with py-spy, summarised by package.

py-spy samples a running process from outside (no change to its code); only threads
that are running Python or native code are sampled, so the shares are of CPU-busy time.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

PY_SPY = Path(sys.executable).parent / "py-spy"
ROOT = str(Path(__file__).resolve().parent.parent) + "/"

_BUCKETS = [
    ("temporalio (SDK, Rust core bridge)", ("/temporalio/",)),
    ("sqlalchemy", ("/sqlalchemy/",)),
    ("psycopg", ("/psycopg/", "/psycopg_binary/", "/psycopg_pool/")),
    ("litestar", ("/litestar/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("msgspec", ("/msgspec/",)),
    ("structlog / logging", ("/structlog/", "/logging/")),
    ("uvicorn / h11 / httptools", ("/uvicorn/", "/h11/", "/httptools/")),
    ("prometheus", ("/prometheus_client/",)),
    ("pydub / audio", ("/pydub/", "podnex/audio.py")),
    ("api/ (podnex)", ("/api/",)),
    ("activities/ (podnex)", ("/activities/",)),
    ("workflows/ (podnex)", ("/workflows/",)),
    ("podnex/", ("/podnex/",)),
    ("threads, selectors (waiting)", ("/concurrent/", "/selectors.py", "/threading.py")),
    ("asyncio", ("/asyncio/",)),
]
_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")


def bucket(frame: str) -> str:
    match = _FRAME.match(frame)
    # py-spy names files relative to their sys.path entry ("sqlalchemy/orm/loading.py").
    path = "/" + (match.group("path") if match else frame).lstrip("/")
    for name, needles in _BUCKETS:
        if any(needle in path for needle in needles):
            return name
    return "other"


def start(
    pid: int, seconds: float | None, output: Path, rate: int = 100
) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` into ``output`` (raw format) for ``seconds``, or until
    :func:`stop` when ``seconds`` is None."""
    duration = "unlimited" if seconds is None else str(max(1, round(seconds)))
    return subprocess.Popen(
        [
            *(str(PY_SPY), "record", "--pid", str(pid), "--duration", duration),
            *("--rate", str(rate), "--format", "raw", "--output", str(output), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(spy: subprocess.Popen[bytes]) -> None:
    """End an open-ended recording; py-spy writes its file on SIGINT."""
    if spy.poll() is None:
        spy.send_signal(signal.SIGINT)
    spy.wait(timeout=60)


def summarise(raw: Path, top: int = 10) -> dict[str, Any]:
    """Shares of samples by package: inclusive (anywhere on the stack) and self (leaf)."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    if not raw.exists():
        return {"samples": 0}
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        for name in {bucket(frame) for frame in frames}:
            inclusive[name] += count
        leaf[bucket(frames[-1])] += count
        functions[_short(frames[-1])] += count
    if total == 0:
        return {"samples": 0}
    return {
        "samples": total,
        "inclusive": {name: n / total for name, n in inclusive.most_common()},
        "self": {name: n / total for name, n in leaf.most_common()},
        "top_functions": {name: n / total for name, n in functions.most_common(top)},
    }


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("path")
    for marker in ("site-packages/", ROOT, "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"
