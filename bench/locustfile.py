"""Locust users for the API latency benchmark (run by bench/api_load.py, headless).

BENCH_TARGET picks what every user asks: ``health`` (GET /api/health), ``status`` (GET
/api/v1/podcasts/{id}/status over BENCH_IDS in turn), ``list`` (GET /api/v1/podcasts),
``create`` (POST /api/v1/podcasts with the benchmark notes) or ``profile`` (GET
/api/v1/user/profile: authentication and one read). Users take the keys of BENCH_KEYS in
turn when it is set (one account each), else all use BENCH_KEY. Each user paces itself to
BENCH_RATE requests a second (an open-loop client such as a status poller), so latency is
measured at a stated load, not at whatever saturates the machine.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

from locust import FastHttpUser, constant_throughput, task

TARGET = os.environ.get("BENCH_TARGET", "health")
KEY = os.environ.get("BENCH_KEY", "")
IDS = [value for value in os.environ.get("BENCH_IDS", "").split(",") if value]
RATE = float(os.environ.get("BENCH_RATE", "2"))
NOTES = Path(os.environ["BENCH_NOTES"]).read_text() if os.environ.get("BENCH_NOTES") else ""
KEYS = [value for value in os.environ.get("BENCH_KEYS", "").split(",") if value] or [KEY]
_next_id = itertools.cycle(IDS or ["none"])
_next_key = itertools.cycle(KEYS)


class ApiUser(FastHttpUser):
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {next(_next_key)}"}

    @task
    def ask(self) -> None:
        if TARGET == "health":
            self.client.get("/api/health", name="health")
        elif TARGET == "status":
            podcast = next(_next_id)
            self.client.get(
                f"/api/v1/podcasts/{podcast}/status", headers=self.headers, name="status"
            )
        elif TARGET == "list":
            self.client.get("/api/v1/podcasts?limit=20", headers=self.headers, name="list")
        elif TARGET == "profile":
            self.client.get("/api/v1/user/profile", headers=self.headers, name="profile")
        elif TARGET == "create":
            body = json.dumps({"noteContent": NOTES, "duration": "SHORT"})
            self.client.post(
                "/api/v1/podcasts",
                data=body,
                headers={**self.headers, "Content-Type": "application/json"},
                name="create",
            )
        else:
            raise ValueError(f"unknown BENCH_TARGET {TARGET!r}")
