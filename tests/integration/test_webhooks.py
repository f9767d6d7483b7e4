"""Webhooks through the real API, worker and Temporal, to a receiver on loopback that
verifies each delivery with the Standard Webhooks library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from temporalio.client import Client

from api.app import create_app
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi, serve
from tests.integration.test_podcast_routes import create, slow_api, wait_finished
from tests.integration.workers import ScriptedEngine, worker_with

pytestmark = pytest.mark.usefixtures("worker")


@dataclass
class Receiver:
    """Answers 500 to the first `fail_first` attempts of each webhook-id, then verifies."""

    fail_first: int = 2
    secret: str | None = None
    url: str = ""
    attempts: dict[str, int] = field(default_factory=dict)
    verified: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rejected: int = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        msg_id = headers.get("webhook-id", "")
        self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
        status = 500
        if self.attempts[msg_id] > self.fail_first:
            try:
                payload = Webhook(self.secret or "").verify(body, headers)
            except WebhookVerificationError:
                self.rejected += 1
                status = 400
            else:
                self.verified.append(payload)
                self.ids.append(msg_id)
                status = 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [p for p in self.verified if p["type"] == event_type]


@asynccontextmanager
async def receiving(fail_first: int = 2) -> AsyncIterator[Receiver]:
    receiver = Receiver(fail_first=fail_first)
    async with serve(receiver) as live:
        receiver.url = f"{live.base_url}/hook"
        yield receiver


async def register(
    client: httpx.AsyncClient, owner: ApiUser, receiver: Receiver, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks", headers=owner.headers, json={"url": receiver.url, **extra}
    )
    assert response.status_code == 201, response.text
    endpoint = response.json()["data"]
    assert endpoint["secret"].startswith("whsec_")
    receiver.secret = endpoint["secret"]
    return endpoint  # type: ignore[no-any-return]


async def until(check: Any, seconds: float = 40.0) -> None:
    for _ in range(int(seconds * 10)):
        if await check() if asyncio.iscoroutinefunction(check) else check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def deliveries(
    client: httpx.AsyncClient, owner: ApiUser, endpoint_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def test_completed_event_verified_once_after_failed_attempts_then_redelivered(
    api: LiveApi, user: ApiUser
) -> None:
    async with receiving(fail_first=2) as receiver:
        endpoint = await register(api.client, user, receiver)
        podcast = await create(api.client, user)
        assert await wait_finished(api.client, user, podcast["id"]) == "COMPLETED"
        await until(lambda: receiver.verified)
        await asyncio.sleep(1.5)  # nothing more comes
        assert len(receiver.verified) == 1, receiver.verified
        event = receiver.verified[0]
        assert event["type"] == "podcast.completed"
        assert event["data"]["id"] == podcast["id"] and event["data"]["status"] == "COMPLETED"
        msg_id = receiver.ids[0]
        assert receiver.attempts == {msg_id: 3}

        [logged] = await deliveries(api.client, user, endpoint["id"])
        assert logged["status"] == "SUCCEEDED" and logged["attempts"] == 3, logged
        assert logged["webhookId"] == msg_id and logged["eventType"] == "podcast.completed"
        assert [a["statusCode"] for a in logged["attemptLog"]] == [500, 500, 204]
        assert logged["nextAttemptAt"] is None and logged["lastStatusCode"] == 204

        # Manual redelivery: the same webhook-id once more, verified.
        url = f"/api/v1/webhooks/{endpoint['id']}/deliveries/{logged['id']}/redeliver"
        response = await api.client.post(url, headers=user.headers)
        assert response.status_code == 202, response.text
        await until(lambda: len(receiver.verified) == 2)
        assert receiver.ids == [msg_id, msg_id]

        async def recorded() -> bool:
            [again] = await deliveries(api.client, user, endpoint["id"])
            return again["attempts"] == 4 and again["status"] == "SUCCEEDED"

        await until(recorded, seconds=5)


async def test_failed_and_cancelled_events_each_delivered_once(
    settings: Settings, temporal_client: Client, user: ApiUser
) -> None:
    async with receiving(fail_first=1) as receiver:
        failing = ScriptedEngine(fail_after=0)
        async with worker_with(settings, temporal_client, failing) as queue:
            app = create_app(settings.model_copy(update={"temporal_task_queue": queue}))
            async with serve(app) as live:
                await register(live.client, user, receiver)
                podcast = await create(live.client, user)
                assert await wait_finished(live.client, user, podcast["id"]) == "FAILED"
                await until(lambda: receiver.of_type("podcast.failed"))
        async with slow_api(settings, temporal_client, delay=1.0) as client:
            podcast = await create(client, user)
            response = await client.post(
                f"/api/v1/podcasts/{podcast['id']}/cancel", headers=user.headers
            )
            assert response.status_code in (200, 202), response.text
            await until(lambda: receiver.of_type("podcast.cancelled"))
        await asyncio.sleep(1.5)
    assert [p["type"] for p in receiver.verified] == ["podcast.failed", "podcast.cancelled"]
    assert len(set(receiver.ids)) == 2 and receiver.rejected == 0
    assert all(count == 2 for count in receiver.attempts.values()), receiver.attempts


async def test_endpoint_that_keeps_failing_is_disabled_with_the_reason(
    settings: Settings, temporal_client: Client, user: ApiUser
) -> None:
    strict = settings.model_copy(
        update={"webhook_retry_hours": 2 / 3600, "webhook_disable_after_failures": 1}
    )
    async with (
        receiving(fail_first=1_000) as receiver,
        worker_with(strict, temporal_client, ScriptedEngine()) as queue,
    ):
        app = create_app(strict.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as live:
            endpoint = await register(live.client, user, receiver)
            podcast = await create(live.client, user)
            assert await wait_finished(live.client, user, podcast["id"]) == "COMPLETED"

            async def disabled() -> bool:
                got = await live.client.get(
                    f"/api/v1/webhooks/{endpoint['id']}", headers=user.headers
                )
                return got.json()["data"]["enabled"] is False

            await until(disabled, seconds=30)
            got = (
                await live.client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=user.headers)
            ).json()["data"]
            assert "1 deliveries in a row failed" in got["disabledReason"], got
            assert "HTTP 500" in got["disabledReason"], got
            [logged] = await deliveries(live.client, user, endpoint["id"])
            assert logged["status"] == "FAILED" and logged["attempts"] >= 2, logged
            # Disabled endpoints are not redelivered to until enabled again.
            url = f"/api/v1/webhooks/{endpoint['id']}/deliveries/{logged['id']}/redeliver"
            assert (await live.client.post(url, headers=user.headers)).status_code == 409
            enabled = await live.client.patch(
                f"/api/v1/webhooks/{endpoint['id']}",
                headers=user.headers,
                json={"enabled": True},
            )
            assert enabled.json()["data"]["disabledReason"] is None
    assert receiver.verified == []


async def test_webhook_crud_and_ownership(api: LiveApi, user: ApiUser, other_user: ApiUser) -> None:
    async with receiving() as receiver:
        endpoint = await register(
            api.client, user, receiver, events=["podcast.completed"], description="ci"
        )
    url = f"/api/v1/webhooks/{endpoint['id']}"
    listed = (await api.client.get("/api/v1/webhooks", headers=user.headers)).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert (
        "secret" not in listed[0]
        and "secret" not in (await api.client.get(url, headers=user.headers)).json()["data"]
    )
    assert (await api.client.get(url, headers=other_user.headers)).status_code == 404
    assert (await api.client.delete(url, headers=other_user.headers)).status_code == 404
    off = await api.client.patch(url, headers=user.headers, json={"enabled": False})
    assert off.json()["data"]["enabled"] is False
    assert off.json()["data"]["disabledReason"] == "Disabled by its owner"
    bad = await api.client.post(
        "/api/v1/webhooks", headers=user.headers, json={"url": "ftp://x", "events": ["nope"]}
    )
    assert bad.status_code == 400
    assert (await api.client.delete(url, headers=user.headers)).status_code == 200
    assert (await api.client.get(url, headers=user.headers)).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
async def test_private_addresses_refused_unless_allowed(
    settings: Settings, user: ApiUser, url: str
) -> None:
    app = create_app(settings.model_copy(update={"webhooks_allow_private": False}))
    async with serve(app) as live:
        response = await live.client.post(
            "/api/v1/webhooks", headers=user.headers, json={"url": url}
        )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["details"][0]["field"] == "url"
    assert "private, loopback or link-local" in body["details"][0]["message"]


def test_receiver_library_rejects_a_tampered_body_and_an_old_timestamp() -> None:
    from datetime import UTC, datetime, timedelta

    from podnex.webhooks import new_secret, signed_request

    secret = new_secret()
    payload = {"type": "podcast.completed", "data": {"id": "x"}}
    now = datetime.now(UTC)
    body, headers = signed_request(secret, "msg_1", payload, now)
    receiver = Webhook(secret)
    assert receiver.verify(body, headers) == payload
    assert headers["webhook-signature"].startswith("v1,")
    tampered = json.dumps({**payload, "data": {"id": "y"}}).encode()
    with pytest.raises(WebhookVerificationError):
        receiver.verify(tampered, headers)
    old_body, old_headers = signed_request(secret, "msg_1", payload, now - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        receiver.verify(old_body, old_headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
