"""Notes stay private: with PAYLOAD_ENCRYPTION_KEYS, what Temporal stores of a podcast holds
no plaintext notes; podnex and the codec server (for operators) decode it; recorded runs
replay; an older key still decodes after rotation; deleting the podcast deletes its
histories."""

from __future__ import annotations

import asyncio
import base64
import json

from google.protobuf import json_format
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from api.app import create_app
from api.codec_server import create_codec_app
from podnex.codec import ENCODING, new_key
from podnex.settings import Settings
from podnex.temporal import connect, data_converter
from tests.conftest import ApiUser, serve
from tests.integration.notes import NOTES
from tests.integration.workers import ScriptedEngine, worker_with
from workflows.podcast import PodcastWorkflow

MARKER = "Zanzibar marmalade cephalopods"
PRIVATE_NOTES = NOTES.replace(
    "## Short lives", f"## Private\n\n{MARKER} keep secrets.\n\n## Short lives"
)


async def test_payloads_are_encrypted_decodable_by_operators_and_deleted_with_the_podcast(
    settings: Settings, temporal_client: Client, user: ApiUser
) -> None:
    old_key = f"k1:{new_key()}"
    secret = settings.model_copy(update={"payload_encryption_keys": SecretStr(old_key)})
    encrypted = await connect(secret)
    async with worker_with(secret, encrypted, ScriptedEngine()) as queue:
        app = create_app(secret.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as api:
            created = await api.client.post(
                "/api/v1/podcasts", headers=user.headers, json={"noteContent": PRIVATE_NOTES}
            )
            assert created.status_code == 201, created.text
            podcast = created.json()["data"]
            handle = encrypted.get_workflow_handle(podcast["workflowId"])
            await handle.result()

            # What Temporal stores: read without the key, no payload is readable.
            raw = await temporal_client.get_workflow_handle(podcast["workflowId"]).fetch_history()
            stored = b"".join(event.SerializeToString() for event in raw.events)
            assert MARKER.encode() not in stored and b"Octopuses" not in stored
            started = raw.events[0].workflow_execution_started_event_attributes
            assert started.input.payloads[0].metadata["encoding"] == ENCODING

            # podnex decodes and replays it with the key.
            history = await handle.fetch_history()
            replayer = Replayer(workflows=[PodcastWorkflow], data_converter=data_converter(secret))
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            assert result.replay_failure is None, result.replay_failure

            # After rotation the old key still decodes (the new one encrypts).
            rotated = secret.model_copy(
                update={"payload_encryption_keys": SecretStr(f"k2:{new_key()},{old_key}")}
            )
            again = Replayer(workflows=[PodcastWorkflow], data_converter=data_converter(rotated))
            assert (
                await again.replay_workflow(history, raise_on_replay_failure=False)
            ).replay_failure is None

            # The Web UI's codec endpoint, for operators who hold the key.
            body = json_format.MessageToJson(Payloads(payloads=[started.input.payloads[0]]))
            async with AsyncTestClient(app=create_codec_app(rotated)) as codec:
                preflight = await codec.options(
                    "/decode",
                    headers={
                        "Origin": "http://localhost:8233",
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "content-type,x-namespace",
                    },
                )
                assert preflight.headers["access-control-allow-origin"] == "http://localhost:8233"
                decoded = await codec.post(
                    "/decode", content=body, headers={"Content-Type": "application/json"}
                )
                assert decoded.status_code == 200, decoded.text
                data = base64.b64decode(decoded.json()["payloads"][0]["data"])
                assert json.loads(data)["spec"]["note_content"] == PRIVATE_NOTES
            unknown = SecretStr(f"k9:{new_key()}")
            stranger = create_codec_app(
                secret.model_copy(update={"payload_encryption_keys": unknown})
            )
            async with AsyncTestClient(app=stranger) as wrong:
                refused = await wrong.post(
                    "/decode", content=body, headers={"Content-Type": "application/json"}
                )
                assert refused.status_code == 400

            # Deleting the podcast deletes its histories (the server removes them shortly).
            deleted = await api.client.delete(
                f"/api/v1/podcasts/{podcast['id']}", headers=user.headers
            )
            assert deleted.status_code == 200
            for _ in range(180):
                try:
                    await handle.describe()
                except RPCError as exc:
                    assert exc.status is RPCStatusCode.NOT_FOUND
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError("the podcast's history outlived it")


def test_keys_are_checked_at_start() -> None:
    import pytest
    from pydantic import ValidationError

    for bad in ("nokey", "k1:not base64!", f"k1:{base64.b64encode(b'short').decode()}"):
        with pytest.raises(ValidationError, match=r"PAYLOAD_ENCRYPTION_KEYS|key"):
            Settings(payload_encryption_keys=bad)  # type: ignore[arg-type]
    twice = new_key()
    with pytest.raises(ValidationError, match="twice"):
        Settings(payload_encryption_keys=f"a:{twice},a:{twice}")  # type: ignore[arg-type]
    assert list(
        Settings(payload_encryption_keys=f"b:{twice},a:{new_key()}").payload_encryption_key_map()
    ) == ["b", "a"]  # type: ignore[arg-type]
