"""docker-compose.yml and the Dockerfile agree with the code.

No Docker engine here, so the compose file is checked as Compose itself would read it: YAML
with merge keys and `${VAR:-default}` interpolation, then the Compose Specification's own
JSON schema (`data/compose-spec.json`, from github.com/compose-spec/compose-spec,
schema/compose-spec.json, Apache-2.0). Then what only podnex knows: every variable handed
to a podnex service is a setting, the values given build a valid `Settings`, the commands
run `worker.py`, the API module and the CLI, and the worker can be scaled.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from litestar import Litestar

from podnex.settings import PROJECT_ROOT, SETTING_VARIABLES, Settings

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"
PODNEX_SERVICES = ("migrations", "api", "worker")
REQUIRED_EVERYWHERE = {
    "ENVIRONMENT",
    "LOG_FORMAT",
    "SECRET_KEY",
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_TASK_QUEUE",
    "STORAGE_BACKEND",
    "S3_BUCKET",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
}
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}|\$\$")


def interpolate(value: Any) -> Any:
    """Compose's interpolation with no variable set: `${X:-default}` -> default, `$$` -> `$`."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: "$" if m.group(0) == "$$" else (m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE_FILE.read_text()))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_stack_has_every_part(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "temporal", "temporal-ui", "minio", "minio-bucket", "migrations"} <= set(
        services
    )
    assert {"api", "worker"} <= set(services)
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    for name in ("postgres", "temporal", "minio", "api", "worker"):
        assert "healthcheck" in services[name], name
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_every_podnex_variable_is_a_setting_and_the_values_are_valid(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = set(SETTING_VARIABLES)
    for name in PODNEX_SERVICES:
        env = environment(compose["services"][name])
        unknown = set(env) - known
        assert not unknown, f"{name} sets variables podnex does not read: {sorted(unknown)}"
        missing = REQUIRED_EVERYWHERE - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        with monkeypatch.context() as patch:
            for variable in known:
                patch.delenv(variable, raising=False)
            for variable, value in env.items():
                patch.setenv(variable, value)
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.environment == "production" and settings.log_format == "json"
        assert settings.storage_backend == "s3"
        assert settings.resolved_database_url().startswith("postgresql+psycopg://")
    worker_env = environment(compose["services"]["worker"])
    assert worker_env["WORKER_HEALTH_PORT"] and worker_env["WORKER_METRICS_PORT"]


def test_the_worker_scales_and_its_healthcheck_asks_its_readiness_port(
    compose: dict[str, Any],
) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    health_port = environment(worker)["WORKER_HEALTH_PORT"]
    assert f"127.0.0.1:{health_port}/ready" in " ".join(worker["healthcheck"]["test"])
    api = compose["services"]["api"]
    assert "/api/ready" in " ".join(api["healthcheck"]["test"])


def test_the_commands_run_the_real_entry_points(compose: dict[str, Any]) -> None:
    services = compose["services"]
    image = {services[name]["image"] for name in PODNEX_SERVICES}
    assert len(image) == 1, "api, worker and migrations share one image"

    assert services["worker"]["command"] == ["python", "worker.py"]
    worker = importlib.import_module("worker")
    assert callable(worker.main) and callable(worker.run)

    api_command = services["api"]["command"]
    assert api_command[0] == "uvicorn"
    module_name, attribute = api_command[1].split(":")
    assert isinstance(getattr(importlib.import_module(module_name), attribute), Litestar)

    assert services["migrations"]["command"] == ["podnex", "migrate"]
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    assert 'podnex = "podnex.cli:main"' in pyproject
    cli = importlib.import_module("podnex.cli")
    with pytest.raises(SystemExit) as known:
        cli.main(["migrate", "--help"])
    assert known.value.code == 0, "`podnex migrate` is a command of the CLI"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, line continuations joined, grouped by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def test_the_image_is_multi_stage_slim_non_root_and_runs_the_api() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE))
    assert "slim" in args["PYTHON_IMAGE"]
    assert all(rest.startswith("${PYTHON_IMAGE}") for rest in (s[0][1] for s in stages))
    final = stages[-1]
    final_text = " ".join(rest for _, rest in final)
    for tool in ("gcc", "build-essential", "apt-get", "-dev ", "make "):
        assert tool not in final_text, f"the runtime stage installs {tool}"
    user = [rest for instruction, rest in final if instruction == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    (cmd,) = [rest for instruction, rest in final if instruction == "CMD"]
    assert json.loads(cmd)[:2] == ["uvicorn", "api.app:app"]
    build_text = " ".join(rest for _, rest in stages[0])
    assert "--only-binary=:all:" in build_text, "every dependency from a wheel: no compiler"
    copied = " ".join(rest for instruction, rest in stages[0] if instruction == "COPY")
    for path in ("worker.py", "podnex", "api", "workflows", "activities", "migrations"):
        assert path in copied, f"the image lacks {path}"


def test_dockerignore_keeps_what_the_image_copies() -> None:
    ignored = {
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var", "tests"} <= ignored
    copied = set()
    for stage in dockerfile_stages():
        for instruction, rest in stage:
            if instruction == "COPY" and not rest.startswith("--from"):
                copied.update(shlex.split(rest)[:-1])
    assert copied, "the Dockerfile copies the sources"
    assert not copied & ignored, f"ignored but copied: {copied & ignored}"
