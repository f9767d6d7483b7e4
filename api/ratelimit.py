"""Rate limits shared by every API process: counters in Postgres.

Two limits, both checked before authentication (so a request with an invalid key costs
one counter update, not a key lookup, once its address is over the limit):

- per client address, every request to a limited path (RATE_LIMIT_PER_ADDRESS_PER_MINUTE);
- per API key, requests that carry a bearer token (RATE_LIMIT_PER_MINUTE), counted by the
  token's SHA-256 so the table never holds a usable key.

Each limit is a fixed one-minute window per bucket, counted in the `rate_limit_buckets`
table with one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` per request: atomic, so
`--scale api=3` keeps one limit per key, and concurrent requests never pass it. Answers
carry `RateLimit-Limit`, `-Remaining`, `-Reset` and `-Policy` for the key (for the address
when there is no key); a refusal is 429 with `Retry-After`.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.middleware.rate_limit import get_remote_address
from sqlalchemy import text

from api.paths import UNLIMITED_PATHS

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

    from podnex.db import Database

log = structlog.get_logger("podnex.api")

WINDOW_SECONDS = 60
CLEANUP_EVERY_SECONDS = 300.0
"""How often a process deletes buckets whose window ended (at most)."""

_COUNT = text(
    """
    INSERT INTO rate_limit_buckets AS b (bucket, hits, window_ends_at)
    SELECT bucket, 1, now() + make_interval(secs => :window)
    FROM unnest(CAST(:buckets AS text[])) WITH ORDINALITY AS t(bucket, position)
    ORDER BY position
    ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN b.window_ends_at <= now() THEN 1 ELSE b.hits + 1 END,
        window_ends_at = CASE
            WHEN b.window_ends_at <= now() THEN EXCLUDED.window_ends_at
            ELSE b.window_ends_at
        END
    RETURNING bucket, hits, EXTRACT(EPOCH FROM window_ends_at - now())::float8
    """
)
_CLEANUP = text("DELETE FROM rate_limit_buckets WHERE window_ends_at < now()")


@dataclass(frozen=True)
class Limit:
    bucket: str
    per_minute: int


@dataclass(frozen=True)
class Count:
    limit: Limit
    hits: int
    resets_in: float

    @property
    def refused(self) -> bool:
        return self.hits > self.limit.per_minute

    def headers(self) -> dict[str, str]:
        """The IETF draft's RateLimit headers, as Litestar's own limiter wrote them."""
        return {
            "RateLimit-Policy": f"{self.limit.per_minute}; w={WINDOW_SECONDS}",
            "RateLimit-Limit": str(self.limit.per_minute),
            "RateLimit-Remaining": str(max(self.limit.per_minute - self.hits, 0)),
            "RateLimit-Reset": str(max(int(self.resets_in + 0.999), 1)),
        }


async def count_hits(db: Database, limits: list[Limit]) -> list[Count]:
    """One hit on each bucket, in one statement (rows locked in the order given)."""
    async with db.engine.begin() as connection:
        rows = (
            await connection.execute(
                _COUNT, {"buckets": [limit.bucket for limit in limits], "window": WINDOW_SECONDS}
            )
        ).all()
    found = {bucket: (hits, resets_in) for bucket, hits, resets_in in rows}
    return [Count(limit, *found[limit.bucket]) for limit in limits]


_UNLIMITED = re.compile("|".join(UNLIMITED_PATHS))


def _is_unlimited(scope: Scope) -> bool:
    """Probes, metrics and the API documentation are never limited (`api.paths`)."""
    return _UNLIMITED.search(scope["path"]) is not None


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class SharedRateLimitMiddleware(ASGIMiddleware):
    """Per-address and per-key limits counted in Postgres (see the module's text)."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, per_key: int, per_address: int) -> None:
        self.should_bypass_for_scope = _is_unlimited
        self.per_key = per_key
        self.per_address = per_address
        self._last_cleanup = time.monotonic()

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        limits: list[Limit] = []
        if self.per_address:
            address = get_remote_address(Request[Any, Any, Any](scope))
            limits.append(Limit(f"ip:{address}", self.per_address))
        token = bearer_token(scope)
        if token is not None and self.per_key:
            digest = hashlib.sha256(token.encode()).hexdigest()
            limits.append(Limit(f"key:{digest}", self.per_key))
        if not limits:
            await next_app(scope, receive, send)
            return
        db: Database = scope["litestar_app"].state.podnex.db
        counts = await count_hits(db, limits)
        await self._maybe_clean_up(db)
        for count in counts:
            if count.refused:
                raise TooManyRequestsException(headers=count.headers())
        shown = counts[-1] if token is None or self.per_key else None
        if shown is None:
            await next_app(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in shown.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await next_app(scope, receive, send_with_headers)

    async def _maybe_clean_up(self, db: Database) -> None:
        """Delete ended windows now and then, so the table holds only live buckets."""
        now = time.monotonic()
        if now - self._last_cleanup < CLEANUP_EVERY_SECONDS:
            return
        self._last_cleanup = now
        async with db.engine.begin() as connection:
            deleted = (await connection.execute(_CLEANUP)).rowcount
        log.debug("rate limit buckets cleaned up", deleted=deleted)
