"""The `podnex` API client commands: make, status, list, cancel, feed.

podnex make notes.md [--duration LONG] [--title T] [--out episode.mp3]
    creates the podcast, shows a progress bar fed by its event stream, downloads the MP3
    and prints where it is and how long it lasts; Ctrl-C asks whether to cancel the run.
podnex status ID | podnex list | podnex cancel ID
podnex feed [show|rotate|revoke]
    your private podcast feed: show its token's prefix (the full address is shown only
    when made), rotate (make a new address, printed alone on stdout; the old one stops
    working; also makes the first one), revoke (no feed until the next rotate).

The API's URL and key come from --api-url/--api-key or PODNEX_API_URL/PODNEX_API_KEY.
Problems (no key, a refused key, 400, 403, 404, the API unreachable) are one line on stderr
and exit status 1 (2 for a missing key or notes file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm

DEFAULT_API_URL = "http://localhost:8000"
CLIENT_COMMANDS = ("make", "status", "list", "cancel", "feed")
FEED_ACTIONS = ("show", "rotate", "revoke")


class ClientError(Exception):
    """A problem to report in one line; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_client_commands(commands: Any) -> None:
    """The client's subcommands, on the `podnex` parser."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api-url", help=f"API base URL (PODNEX_API_URL; {DEFAULT_API_URL})")
        parser.add_argument("--api-key", help="API key (PODNEX_API_KEY)")

    make = commands.add_parser("make", help="make a podcast from a notes file, with progress")
    make.add_argument("notes", type=Path, help="a Markdown or text file")
    make.add_argument("--duration", choices=["SHORT", "LONG"], default="SHORT")
    make.add_argument("--title")
    make.add_argument("--out", type=Path, help="where to write the MP3 (default: <id>.mp3)")
    common(make)
    status = commands.add_parser("status", help="a podcast's status and progress")
    status.add_argument("id")
    common(status)
    listing = commands.add_parser("list", help="your podcasts, newest first")
    listing.add_argument("--limit", type=int, default=20)
    common(listing)
    cancel = commands.add_parser("cancel", help="cancel a podcast being made")
    cancel.add_argument("id")
    common(cancel)
    feed = commands.add_parser("feed", help="your private podcast feed (RSS) for podcast apps")
    feed.add_argument(
        "feed_action",
        nargs="?",
        choices=FEED_ACTIONS,
        default="show",
        metavar="{show,rotate,revoke}",
        help="show (default), rotate (a new address; also makes the first) or revoke",
    )
    common(feed)


def explain(response: httpx.Response) -> str:
    """One line from the API's error envelope (403 with its reason, 400 with its fields)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    message = str(body.get("error") or f"HTTP {response.status_code}")
    details = body.get("details")
    if response.status_code == 403 and isinstance(details, dict) and details.get("reason"):
        return f"{message}: {details['reason']}"
    if response.status_code == 401:
        return f"{message} (check --api-key or PODNEX_API_KEY)"
    return message


class Api:
    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(60.0, read=60.0),
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the API at {self.http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ClientError(explain(response))
        body = response.json()
        return body.get("data", body)  # a message envelope has no data: the body itself

    def events(self, podcast_id: str) -> Any:
        """The podcast's server-sent events, parsed, until the final one."""
        last: str | None = None
        while True:  # reconnect with Last-Event-ID if the stream drops
            headers = {"Last-Event-ID": last} if last else {}
            try:
                with connect_sse(
                    self.http, "GET", f"/api/v1/podcasts/{podcast_id}/events", headers=headers
                ) as source:
                    if source.response.status_code == 204:
                        return
                    if source.response.status_code >= 400:
                        source.response.read()
                        raise ClientError(explain(source.response))
                    for event in source.iter_sse():
                        last = event.id or last
                        data = json.loads(event.data)
                        yield event.event, data
                        if event.event == "final":
                            return
            except httpx.TransportError:
                continue


def credentials(args: argparse.Namespace) -> Api:
    url = args.api_url or os.environ.get("PODNEX_API_URL") or DEFAULT_API_URL
    key = args.api_key or os.environ.get("PODNEX_API_KEY")
    if not key:
        raise ClientError(
            "no API key: pass --api-key or set PODNEX_API_KEY (make dev writes one to "
            "var/dev-api-key)",
            status=2,
        )
    return Api(url, key)


def make(api: Api, args: argparse.Namespace, out: Console, err: Console) -> int:
    try:
        notes = args.notes.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClientError(f"cannot read {args.notes}: {exc.strerror or exc}", status=2) from exc
    body: dict[str, Any] = {"noteContent": notes, "duration": args.duration}
    if args.title:
        body["title"] = args.title
    podcast = api.call("POST", "/api/v1/podcasts", json=body)
    podcast_id = podcast["id"]
    print(f"Created podcast {podcast_id}", flush=True)
    try:
        stream = api.call("GET", f"/api/v1/podcasts/{podcast_id}/stream")
        print(f"Listen while it is made: {stream['url']}", flush=True)
    except ClientError:
        pass  # a server without the stream: the MP3 comes at the end all the same
    final: dict[str, Any] | None = None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
    )
    try:
        with progress:
            task = progress.add_task("Queued", total=100)
            for kind, data in api.events(podcast_id):
                step = data.get("currentStep") or data["status"]
                progress.update(task, completed=data["progress"], description=step)
                if kind == "final":
                    final = data
    except KeyboardInterrupt:
        if Confirm.ask(f"Cancel podcast {podcast_id}?", console=err, default=True):
            cancelled = api.call("POST", f"/api/v1/podcasts/{podcast_id}/cancel")
            print(f"Podcast {podcast_id}: {cancelled['status']}", flush=True)
        else:
            print(f"Left running: podnex status {podcast_id}", flush=True)
        return 130
    if final is None:
        raise ClientError(f"the event stream of {podcast_id} ended without a final state")
    if final["status"] != "COMPLETED":
        raise ClientError(f"podcast {podcast_id} {final['status']}: {final.get('error') or ''}")
    link = api.call("GET", f"/api/v1/podcasts/{podcast_id}/download")
    target = args.out or Path(f"{podcast_id}.mp3")
    with httpx.stream("GET", link["url"], timeout=60) as response:
        if response.status_code != 200:
            raise ClientError(f"download failed: HTTP {response.status_code}")
        with target.open("wb") as file:
            for chunk in response.iter_bytes():
                file.write(chunk)
    seconds = float(link.get("audioDuration") or 0)
    out.print(f"Wrote {target} ({int(seconds // 60)}:{int(seconds % 60):02d}, {seconds:.1f} s)")
    return 0


def feed(api: Api, action: str, err: Console) -> int:
    """`podnex feed`: the URL of a new feed goes alone to stdout (for scripts); the rest
    is for people."""
    if action == "rotate":
        data = api.call("POST", "/api/v1/feed")
        print(data["url"], flush=True)
        err.print("Add this address to your podcast app; it is shown only now. Anyone with it")
        err.print("can listen, so keep it private (`podnex feed rotate` replaces it).")
        return 0
    if action == "revoke":
        api.call("DELETE", "/api/v1/feed")
        print("Feed revoked: its address answers 404 from now on", flush=True)
        return 0
    try:
        data = api.call("GET", "/api/v1/feed")
    except ClientError as exc:
        if "No feed yet" in str(exc):
            print("No feed yet: `podnex feed rotate` makes one", flush=True)
            return 0
        raise
    used = data.get("lastUsedAt") or "never"
    print(f"{data['urlHint']}  created {data['createdAt']}  last used {used}", flush=True)
    err.print("The full address was shown when it was made; `podnex feed rotate` makes a new one.")
    return 0


def run_client(args: argparse.Namespace) -> int:
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    try:
        api = credentials(args)
        if args.command == "make":
            return make(api, args, out, err)
        if args.command == "status":
            data = api.call("GET", f"/api/v1/podcasts/{args.id}/status")
            line = f"{data['id']}  {data['status']}  {data['progress']}%  {data['currentStep']}"
            out.print(line + (f"  error: {data['error']}" if data.get("error") else ""))
            return 0
        if args.command == "feed":
            return feed(api, args.feed_action, err)
        if args.command == "list":
            rows = api.call("GET", "/api/v1/podcasts", params={"limit": args.limit})
            for row in rows:
                out.print(f"{row['id']}  {row['status']:<10}  {row.get('title') or '-'}")
            return 0
        data = api.call("POST", f"/api/v1/podcasts/{args.id}/cancel")
        out.print(f"{data['id']}  {data['status']}")
        return 0
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.status
