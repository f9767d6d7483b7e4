"""All configuration, read from the environment (and an optional `.env` file).

One model for every process (API, worker, CLI, dev stack), so a variable means the same
thing everywhere. Invalid values fail at start with pydantic's message naming the variable.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from podnex.codec import parse_keys
from podnex.providers import SCRIPT_WRITERS, SPEECH_PROVIDERS, Provider

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


# -- provider sections: each provider's own settings, `<SECTION>_<FIELD>` in the environment --


class OpenAISettings(BaseModel):
    """OPENAI_*: an OpenAI-compatible provider (OpenAI, or Ollama, vLLM, LM Studio through
    OPENAI_BASE_URL), used by the `openai` script writer and the `openai` speech engine."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout_seconds: float = Field(default=120.0, gt=0)
    script_model: str = "gpt-4o-mini"
    script_chunk_chars: int = Field(default=16_000, ge=2_000)
    script_max_attempts: int = Field(default=3, ge=1, le=10)
    script_output_mode: Literal["auto", "json_schema", "json_object", "prompt"] = "auto"
    tts_model: str = "gpt-4o-mini-tts"
    tts_format: Literal["wav", "mp3"] = "wav"
    tts_max_input_chars: int = Field(default=4096, ge=100)
    tts_max_concurrency: int = Field(default=4, ge=1)
    tts_requests_per_second: float | None = Field(default=None, gt=0)


class EspeakSettings(BaseModel):
    """ESPEAK_*: the offline espeak-ng speech engine."""

    max_concurrency: int = Field(default=8, ge=1)
    processes: int = Field(default=0, ge=0)
    """Processes speaking espeak lines at once per worker: 0 is one a core, 1 speaks in the
    worker's own process (`podnex.speech.espeak`)."""


ELEVENLABS_OUTPUT_FORMAT = r"^(mp3_\d+_\d+|pcm_\d+|wav_\d+|ulaw_8000|alaw_8000|opus_48000_\d+)$"
"""ElevenLabs' `output_format` values (codec_sample-rate[_bitrate]), all decoded to PCM."""


class ElevenLabsSettings(BaseModel):
    """ELEVENLABS_*: the ElevenLabs speech engine (official SDK, its retries off)."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout_seconds: float = Field(default=120.0, gt=0)
    model_id: str = "eleven_multilingual_v2"
    output_format: str = Field(default="mp3_44100_128", pattern=ELEVENLABS_OUTPUT_FORMAT)
    max_input_chars: int | None = Field(default=None, ge=100)
    stitching: bool = True
    max_concurrency: int = Field(default=2, ge=1)
    requests_per_second: float | None = Field(default=None, gt=0)


class UnrealSpeechSettings(BaseModel):
    """UNREALSPEECH_*: the Unreal Speech engine (its `/stream` HTTP API, through httpx).

    The section is `unrealspeech`, as the engine is named: with `<SECTION>_<FIELD>`
    variables cut at the first underscore, a section `unreal_speech` could not be read."""

    api_key: SecretStr | None = None
    base_url: str = "https://api.v8.unrealspeech.com"
    timeout_seconds: float = Field(default=60.0, gt=0)
    bitrate: Literal["16k", "32k", "48k", "64k", "128k", "192k", "256k", "320k"] = "192k"
    speed: float = Field(default=0.0, ge=-1.0, le=1.0)
    pitch: float = Field(default=1.0, ge=0.5, le=1.5)
    max_input_chars: int = Field(default=1000, ge=100, le=1000)
    max_concurrency: int = Field(default=2, ge=1)
    requests_per_second: float | None = Field(default=2.0, gt=0)


class DodoSettings(BaseModel):
    """DODO_*: payments through Dodo Payments (official SDK, its retries off). Off unless
    DODO_API_KEY is set; then DODO_WEBHOOK_SECRET and the paid plans' product ids are
    required too."""

    api_key: SecretStr | None = None
    environment: Literal["test", "live"] = "test"
    webhook_secret: SecretStr | None = None
    base_url: str | None = None
    """Another API base (tests: a local server); unset, the environment's own."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    product_starter: str | None = None
    product_pro: str | None = None
    product_business: str | None = None
    return_url: str | None = None

    @property
    def enabled(self) -> bool:
        return self.api_key is not None


SECTIONS: dict[str, type[BaseModel]] = {
    "openai": OpenAISettings,
    "espeak": EspeakSettings,
    "elevenlabs": ElevenLabsSettings,
    "unrealspeech": UnrealSpeechSettings,
    "dodo": DodoSettings,
}
"""Each provider section of Settings, by its field name (the variables' prefix)."""


def _nest_flat_section_fields(data: object) -> object:
    """Accept `openai_api_key=...` (today's flat names) as well as `openai={"api_key": ...}`."""
    if not isinstance(data, dict):
        return data
    nested = dict(data)
    for section in SECTIONS:
        prefix = f"{section}_"
        flat = {
            key[len(prefix) :]: nested.pop(key) for key in list(nested) if key.startswith(prefix)
        }
        if flat:
            current = nested.get(section)
            if isinstance(current, BaseModel):
                current = current.model_dump()
            nested[section] = {**(current or {}), **flat}
    return nested


class Settings(BaseSettings):
    """podnex settings. Each field is the upper-case environment variable of the same name;
    a provider section's fields are `<SECTION>_<FIELD>` (OPENAI_API_KEY is `openai.api_key`)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
        # OPENAI_TTS_MODEL -> openai.tts_model: a section's prefix, then its field's name.
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    # Runtime
    environment: Literal["development", "test", "production"] = "development"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    var_dir: Path = DEFAULT_VAR_DIR

    # Postgres (system of record). Unset: the embedded pgserver under var_dir.
    # Not in repr: the URL usually carries the password.
    database_url: str | None = Field(default=None, repr=False)
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    database_pool_recycle_seconds: int = Field(default=1800, ge=0)

    # Temporal (a local dev server, a self-hosted cluster or Temporal Cloud)
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "podnex"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool | None = None
    temporal_tls_client_cert_path: Path | None = None
    temporal_tls_client_key_path: Path | None = None
    temporal_tls_client_cert_data: str | None = Field(default=None, repr=False)
    temporal_tls_client_key_data: SecretStr | None = None
    temporal_tls_server_ca_cert_path: Path | None = None
    temporal_tls_server_name: str | None = None
    # Encrypted payloads (podnex.codec): `id:base64key`, comma-separated, newest first.
    payload_encryption_keys: SecretStr | None = None
    codec_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"]
    )

    @field_validator("payload_encryption_keys")
    @classmethod
    def _valid_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keys(value.get_secret_value())  # fails at start, naming what is wrong
        return value

    @field_validator("codec_cors_origins", mode="before")
    @classmethod
    def _split_codec_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def payload_encryption_key_map(self) -> dict[str, bytes]:
        """The payload keys by id, newest (the one that encrypts) first; empty when off."""
        if self.payload_encryption_keys is None:
            return {}
        return parse_keys(self.payload_encryption_keys.get_secret_value())

    # API
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = None
    secret_key: SecretStr | None = None
    download_url_ttl_seconds: int = Field(default=3600, ge=1)
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"]
    )
    rate_limit_per_minute: int = Field(default=600, ge=0)
    rate_limit_per_address_per_minute: int = Field(default=1200, ge=0)
    request_max_body_bytes: int = Field(default=1_048_576, ge=1)
    max_api_keys_per_user: int = Field(default=25, ge=1)

    # Webhooks
    webhooks_allow_private: bool = False
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    webhook_disable_after_failures: int = Field(default=5, ge=1)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        """Accept CORS_ORIGINS as a JSON list or comma-separated; origins need http(s)://."""
        if isinstance(value, str):
            import json

            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if not isinstance(value, list):
            return value
        origins = [str(origin).strip().rstrip("/") for origin in value if str(origin).strip()]
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS_ORIGINS: {origin!r} is not an http(s) origin or *")
        return origins

    # Storage
    storage_backend: Literal["local", "s3"] = "local"
    storage_dir: Path | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"

    # Script and speech: which providers (podnex.providers declares them), and their sections
    script_writer: str = "offline"
    tts_providers: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["espeak"])
    default_tts_provider: str = "espeak"
    speech_concurrency: int | None = Field(default=None, ge=1, le=64)
    """A podcast's speech activities at once, for every engine; None: each engine's own
    (`podnex.providers.SpeechProvider.activities_at_once`)."""
    speech_lines_per_activity: int | None = Field(default=None, ge=1, le=256)
    """Lines one speech activity speaks in turn, for every engine; None: each engine's own
    (`podnex.providers.SpeechProvider.lines_per_activity`)."""
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    espeak: EspeakSettings = Field(default_factory=EspeakSettings)
    elevenlabs: ElevenLabsSettings = Field(default_factory=ElevenLabsSettings)
    unrealspeech: UnrealSpeechSettings = Field(default_factory=UnrealSpeechSettings)
    unreal_speech_api_key: SecretStr | None = None
    """UNREAL_SPEECH_API_KEY, the name the original plan uses: UNREALSPEECH_API_KEY's twin."""
    dodo: DodoSettings = Field(default_factory=DodoSettings)

    _accept_flat_section_fields = model_validator(mode="before")(_nest_flat_section_fields)

    # Worker
    worker_max_concurrent_activities: int = Field(default=16, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_cached_workflows: int = Field(default=1000, ge=0)
    worker_graceful_shutdown_seconds: float = Field(default=10.0, ge=0)
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_health_port: int | None = Field(default=None, ge=1, le=65535)
    worker_bind_host: str = "0.0.0.0"

    # Reconciler (a Temporal Schedule the worker keeps: podnex.reconcile)
    reconcile_interval_seconds: int = Field(default=300, ge=0)
    reconcile_grace_seconds: int = Field(default=600, ge=0)
    segment_retention_days: float = Field(default=30.0, ge=0)
    """How long a finished podcast's synthesised lines are kept after its last run, for
    re-rendering an edited script (0: as long as the podcast exists). The reconciler
    removes them after that; a later re-render synthesises again what is missing."""

    # Administration
    temporal_ui_url: str | None = None
    """The Temporal Web UI's base (`http://localhost:8233`): admin listings link each run."""

    @field_validator("tts_providers", mode="before")
    @classmethod
    def _split_providers(cls, value: object) -> object:
        """Accept TTS_PROVIDERS as a comma-separated list ("espeak,openai")."""
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("tts_providers")
    @classmethod
    def _known_engines(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in SPEECH_PROVIDERS]
        if unknown:
            raise ValueError(
                f"unknown speech engine {', '.join(unknown)}; "
                f"podnex ships: {', '.join(SPEECH_PROVIDERS)}"
            )
        return value

    @field_validator("script_writer")
    @classmethod
    def _known_writer(cls, value: str) -> str:
        if value not in SCRIPT_WRITERS:
            raise ValueError(f"unknown script writer; podnex ships: {', '.join(SCRIPT_WRITERS)}")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        """Refuse settings that cannot work together, naming the variable to fix."""
        if self.unrealspeech.api_key is None and self.unreal_speech_api_key is not None:
            self.unrealspeech.api_key = self.unreal_speech_api_key
        if not self.tts_providers:
            raise ValueError("TTS_PROVIDERS must name at least one speech engine")
        if len(set(self.tts_providers)) != len(self.tts_providers):
            raise ValueError("TTS_PROVIDERS names an engine twice")
        if self.default_tts_provider not in self.tts_providers:
            raise ValueError(
                f"DEFAULT_TTS_PROVIDER={self.default_tts_provider} is not enabled in "
                f"TTS_PROVIDERS ({','.join(self.tts_providers)})"
            )
        self._check_required(
            SCRIPT_WRITERS[self.script_writer], f"SCRIPT_WRITER={self.script_writer}"
        )
        for name in self.tts_providers:
            self._check_required(SPEECH_PROVIDERS[name], f"TTS_PROVIDERS includes {name}")
        self._check_temporal_tls()
        if self.dodo.enabled:
            for field in ("webhook_secret", "product_starter", "product_pro", "product_business"):
                if getattr(self.dodo, field) is None:
                    raise ValueError(f"DODO_{field.upper()} must be set when DODO_API_KEY is set")
        if self.storage_backend == "s3":
            if not self.s3_bucket:
                raise ValueError("S3_BUCKET must be set when STORAGE_BACKEND=s3")
            if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
                raise ValueError(
                    "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together "
                    "(or neither, to use the AWS default credential chain)"
                )
        return self

    def _check_required(self, provider: Provider, usage: str) -> None:
        """The settings a provider in use cannot work without (declared by the provider)."""
        for path, hint in provider.required_settings.items():
            section, _, field = path.partition(".")
            if getattr(getattr(self, section), field) is None:
                variable = f"{section}_{field}".upper()
                raise ValueError(f"{variable} must be set when {usage}{hint}")

    def _check_temporal_tls(self) -> None:
        """Client certificate and key come together, each from a file or a variable."""
        cert = (self.temporal_tls_client_cert_path, self.temporal_tls_client_cert_data)
        key = (self.temporal_tls_client_key_path, self.temporal_tls_client_key_data)
        if all(value is not None for value in cert):
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_CERT_DATA are exclusive"
            )
        if all(value is not None for value in key):
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_KEY_PATH and TEMPORAL_TLS_CLIENT_KEY_DATA are exclusive"
            )
        has_cert = any(value is not None for value in cert)
        has_key = any(value is not None for value in key)
        if has_cert != has_key:
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_CERT_* and TEMPORAL_TLS_CLIENT_KEY_* must be set together "
                "(mTLS needs both the certificate and its private key)"
            )
        if self.temporal_tls is False and (
            has_cert or self.temporal_tls_server_ca_cert_path or self.temporal_tls_server_name
        ):
            raise ValueError(
                "TEMPORAL_TLS=false contradicts the TEMPORAL_TLS_* certificate settings"
            )
        for name in (
            "temporal_tls_client_cert_path",
            "temporal_tls_client_key_path",
            "temporal_tls_server_ca_cert_path",
        ):
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name.upper()}: {path} is not a readable file")

    @property
    def resolved_storage_dir(self) -> Path:
        return self.storage_dir or self.var_dir / "storage"

    @property
    def pgdata_dir(self) -> Path:
        return self.var_dir / "pgdata"

    def resolved_database_url(self) -> str:
        """DATABASE_URL, or the embedded server's socket URL when it is unset."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"postgresql+psycopg://postgres:@/postgres?host={self.pgdata_dir}"

    def resolved_secret_key(self) -> bytes:
        """SECRET_KEY, or a random key kept in var_dir so every dev process shares it."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.environment == "production":
            raise ValueError("SECRET_KEY must be set in production")
        path = self.var_dir / "secret-key"
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.replace(path)
        return path.read_text().strip().encode()


def normalise_database_url(url: str) -> str:
    """Make a plain `postgresql://` URL use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def setting_fields() -> dict[str, FieldInfo]:
    """Every setting by its environment variable's name in lower case, sections flattened
    (`openai_api_key` for `openai.api_key`)."""
    fields: dict[str, FieldInfo] = {}
    for name, info in Settings.model_fields.items():
        if name in SECTIONS:
            for field, section_info in SECTIONS[name].model_fields.items():
                fields[f"{name}_{field}"] = section_info
        else:
            fields[name] = info
    return fields


SETTING_VARIABLES = tuple(name.upper() for name in setting_fields())
"""Every environment variable podnex reads."""

SECRET_FIELDS = frozenset(
    name
    for name, info in setting_fields().items()
    if "SecretStr" in str(info.annotation) or not info.repr
)
"""Settings whose values never appear in an error message or a log line."""


def describe_invalid_settings(error: ValidationError) -> str:
    """A few readable lines, one per problem, each naming the environment variable.

    Values of secret settings are never echoed.
    """
    lines = ["invalid configuration:"]
    for problem in error.errors():
        fields = [str(part) for part in problem["loc"]]
        message = problem["msg"].removeprefix("Value error, ")
        if not fields:
            lines.append(f"  {message}")
            continue
        if fields[0] in SECTIONS and len(fields) > 1:
            fields = [f"{fields[0]}_{fields[1]}", *fields[2:]]
        name = fields[0]
        variable = name.upper() + "".join(f"[{part}]" for part in fields[1:])
        shown = ""
        if (
            name not in SECRET_FIELDS
            and "input" in problem
            and isinstance(problem["input"], str | int | float)
        ):
            shown = f" (got {problem['input']!r})"
        lines.append(f"  {variable}: {message}{shown}")
    return "\n".join(lines)


def settings_or_exit(program: str) -> Settings:
    """The environment's settings; on invalid ones, a short message and exit status 2.

    For process entry points (worker, API, CLI): the operator sees which variable is
    wrong and why, not a traceback.
    """
    try:
        return get_settings()
    except ValidationError as error:
        print(f"{program}: {describe_invalid_settings(error)}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
