"""Webhooks (Standard Webhooks): the endpoints users register, the deliveries of each event,
and the one signed HTTP call that delivers one.

The one writer of the `webhook_endpoints` and `webhook_deliveries` rows. Temporal retries a
delivery (``WebhookDeliveryWorkflow``); each attempt is recorded here, with its status code
and when the next one comes, and the attempt that gives up counts against its endpoint,
which is disabled, with the reason, once too many deliveries in a row were given up on.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from podnex.models import Podcast, WebhookDelivery, WebhookEndpoint
from podnex.vocabulary import PodcastStatus

COMPLETED, FAILED, CANCELLED = "podcast.completed", "podcast.failed", "podcast.cancelled"
EVENT_TYPES = (COMPLETED, FAILED, CANCELLED)
EVENT_FOR_STATUS = {
    PodcastStatus.COMPLETED: COMPLETED,
    PodcastStatus.FAILED: FAILED,
    PodcastStatus.CANCELLED: CANCELLED,
}
ATTEMPT_LOG_SIZE = 20
"""The latest attempts kept on a delivery."""
RESOLVE_TIMEOUT_SECONDS = 5.0
_DELIVERY_IDS = uuid.UUID("6f1c1d2e-8a4b-4c1e-9b7a-0d3e5f7a9c11")


@dataclass
class WebhookPolicy:
    """How hard deliveries try, and which addresses they may reach."""

    give_up_after: timedelta = timedelta(hours=24)
    """A delivery's attempts stop once its first one is this old (Temporal retries until)."""
    disable_after: int = 5
    """An endpoint is disabled after this many deliveries in a row were given up on."""
    allow_private: bool = False
    """Whether URLs may resolve to private, loopback or link-local addresses."""
    timeout_seconds: float = 15.0


class WebhookError(Exception):
    """A request about webhooks that cannot be honoured (the message says why)."""


def new_secret() -> str:
    """A fresh `whsec_` signing secret: 24 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# -- addresses --------------------------------------------------------------------------------


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not receive webhooks (None: it may): not http(s), no host, a host
    that does not resolve, or one that resolves to a private, loopback or link-local
    address (unless ``allow_private``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "has an invalid port"
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
            infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port)
    except (OSError, TimeoutError):
        return f"host {parts.hostname!r} does not resolve"
    if not allow_private:
        for info in infos:
            address = str(info[4][0])
            if _forbidden(address):
                return (
                    f"host {parts.hostname!r} resolves to {address}, a private, loopback or "
                    "link-local address"
                )
    return None


# -- endpoints --------------------------------------------------------------------------------


async def create_endpoint(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    url: str,
    events: list[str],
    description: str | None,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(),
        user_id=user_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret=new_secret(),
        enabled=True,
        failed_deliveries=0,
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def list_endpoints(session: AsyncSession, user_id: uuid.UUID) -> list[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user_id)
        .order_by(WebhookEndpoint.created_at.desc())
    )
    return list(rows)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def get_endpoint(
    session: AsyncSession, user_id: uuid.UUID, endpoint_id: str, *, for_update: bool = False
) -> WebhookEndpoint | None:
    """The user's endpoint, or None (missing, malformed id or someone else's)."""
    parsed = _uuid(endpoint_id)
    if parsed is None:
        return None
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.id == parsed, WebhookEndpoint.user_id == user_id
    )
    if for_update:
        query = query.with_for_update()
    return (await session.scalars(query)).one_or_none()


def update_endpoint(
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    enabled: bool | None = None,
) -> None:
    """Change an endpoint; enabling it again clears its failures and the reason."""
    if url is not None:
        endpoint.url = url
    if events is not None:
        endpoint.events = sorted(set(events))
    if description is not None:
        endpoint.description = description
    if enabled is not None:
        endpoint.enabled = enabled
        endpoint.disabled_reason = None if enabled else "Disabled by its owner"
        if enabled:
            endpoint.failed_deliveries = 0


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    await session.delete(endpoint)


# -- deliveries -------------------------------------------------------------------------------


def delivery_id_for(
    endpoint_id: uuid.UUID, event_type: str, podcast_id: str, run_id: str
) -> uuid.UUID:
    """The one delivery of an event of a podcast's run to an endpoint: a retried activity
    finds the same id, and so starts the same delivery workflow once."""
    return uuid.uuid5(_DELIVERY_IDS, f"{endpoint_id}:{event_type}:{podcast_id}:{run_id}")


def event_payload(podcast: Podcast, event_type: str, now: datetime) -> dict[str, Any]:
    """The Standard Webhooks body: `type`, `timestamp` and the podcast in `data`."""
    return {
        "type": event_type,
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "data": {
            "id": str(podcast.id),
            "status": podcast.status.value,
            "title": podcast.title,
            "error": podcast.error,
            "audioDuration": podcast.audio_duration,
            "audioUrl": f"/api/v1/podcasts/{podcast.id}/download"
            if podcast.status is PodcastStatus.COMPLETED
            else None,
            "completedAt": podcast.completed_at.isoformat() if podcast.completed_at else None,
        },
    }


async def record_deliveries(
    session: AsyncSession, podcast_id: uuid.UUID, *, run_id: str, now: datetime
) -> list[uuid.UUID]:
    """The deliveries of a finished podcast's event, one per enabled endpoint of its owner
    that asked for it: recorded once (a second call finds them), their ids returned."""
    podcast = await session.get(Podcast, podcast_id)
    if podcast is None or podcast.deleted_at is not None:
        return []
    event_type = EVENT_FOR_STATUS.get(podcast.status)
    if event_type is None:
        return []
    endpoints = await session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.user_id == podcast.user_id, WebhookEndpoint.enabled.is_(True)
        )
    )
    ids = []
    payload = event_payload(podcast, event_type, now)
    for endpoint in endpoints:
        if event_type not in endpoint.events:
            continue
        delivery_id = delivery_id_for(endpoint.id, event_type, str(podcast_id), run_id)
        await session.execute(
            insert(WebhookDelivery)
            .values(
                id=delivery_id,
                endpoint_id=endpoint.id,
                message_id=f"msg_{delivery_id.hex}",
                event_type=event_type,
                podcast_id=podcast_id,
                payload=payload,
                status="PENDING",
                attempts=0,
                window_started_at=now,
                redeliveries=0,
                attempt_log=[],
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        ids.append(delivery_id)
    return ids


@dataclass(frozen=True)
class Target:
    """What one attempt needs: the delivery and its endpoint."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


async def target_of(session: AsyncSession, delivery_id: uuid.UUID) -> Target | None:
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
    return None if endpoint is None else Target(delivery, endpoint)


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt's outcome."""

    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Outcome = Literal["SUCCEEDED", "RETRYING", "FAILED"]


async def record_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    attempt: Attempt,
    *,
    outcome: Outcome,
    next_attempt_at: datetime | None,
    policy: WebhookPolicy,
    reason: str | None = None,
) -> None:
    """Write an attempt into the delivery's log; a success resets its endpoint's failures,
    a delivery given up on counts one and disables the endpoint at `policy.disable_after`."""
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return
    delivery.attempts += 1
    delivery.last_status_code = attempt.status_code
    delivery.last_error = reason or attempt.error
    delivery.status = "PENDING" if outcome == "RETRYING" else outcome
    delivery.next_attempt_at = next_attempt_at if outcome == "RETRYING" else None
    if outcome == "SUCCEEDED":
        delivery.delivered_at = attempt.at
    entry = {
        "at": attempt.at.isoformat(),
        "statusCode": attempt.status_code,
        "error": attempt.error,
        "durationMs": attempt.duration_ms,
    }
    delivery.attempt_log = [*delivery.attempt_log, entry][-ATTEMPT_LOG_SIZE:]
    if outcome == "RETRYING":
        return
    endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
    if endpoint is None:
        return
    if outcome == "SUCCEEDED":
        endpoint.failed_deliveries = 0
        return
    endpoint.failed_deliveries += 1
    if endpoint.enabled and endpoint.failed_deliveries >= policy.disable_after:
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"Disabled after {endpoint.failed_deliveries} deliveries in a row failed; "
            f"the last: {reason or attempt.error or attempt.status_code}"
        )


async def list_deliveries(
    session: AsyncSession, endpoint_id: uuid.UUID, *, page: int, limit: int
) -> tuple[list[WebhookDelivery], int]:
    where = WebhookDelivery.endpoint_id == endpoint_id
    total = await session.scalar(select(func.count()).select_from(WebhookDelivery).where(where))
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(where)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def get_delivery(
    session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: str
) -> WebhookDelivery | None:
    parsed = _uuid(delivery_id)
    if parsed is None:
        return None
    delivery = await session.get(WebhookDelivery, parsed, with_for_update=True)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint_id else None


def redeliver(delivery: WebhookDelivery, now: datetime) -> int:
    """Start a delivery's attempts over (same `webhook-id`); the number of this redelivery,
    which names its workflow. Refused while attempts are still under way."""
    if delivery.status == "PENDING":
        raise WebhookError("This delivery is still being attempted")
    delivery.redeliveries += 1
    delivery.status = "PENDING"
    delivery.window_started_at = now
    delivery.next_attempt_at = now
    return delivery.redeliveries


# -- the call ---------------------------------------------------------------------------------


def signed_request(
    secret: str, message_id: str, payload: dict[str, Any], now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The body and the Standard Webhooks headers (v1, HMAC-SHA256) of one attempt."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    signature = Webhook(secret).sign(message_id, now, body)
    headers = {
        "content-type": "application/json",
        "user-agent": "podnex-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


async def send(target: Target, now: datetime, *, timeout_seconds: float) -> Attempt:
    """POST the delivery, signed, to its endpoint (redirects are not followed)."""
    body, headers = signed_request(
        target.endpoint.secret, target.delivery.message_id, target.delivery.payload, now
    )
    started = time.monotonic()
    code: int | None = None
    error: str | None = None
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client:
            response = await client.post(target.endpoint.url, content=body, headers=headers)
        code = response.status_code
        if not 200 <= code < 300:
            error = f"answered HTTP {code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")[:500]
    return Attempt(
        at=now,
        status_code=code,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
