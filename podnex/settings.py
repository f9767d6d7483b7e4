"""All configuration, read from the environment (and an optional `.env` file).

One model for every process (API, worker, CLI, dev stack), so a variable means the same
thing everywhere. Invalid values fail at start with pydantic's message naming the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    """podnex settings. Each field is the upper-case environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Runtime
    environment: Literal["development", "test", "production"] = "development"
    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"
    var_dir: Path = DEFAULT_VAR_DIR

    # Postgres (system of record). Unset: the embedded pgserver under var_dir.
    database_url: str | None = None
    database_pool_size: int = Field(default=10, ge=1)

    # Temporal
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "podnex"

    # API
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str | None = None
    secret_key: SecretStr | None = None
    download_url_ttl_seconds: int = Field(default=3600, ge=1)

    # Storage
    storage_backend: Literal["local"] = "local"
    storage_dir: Path | None = None

    # Script and speech
    script_writer: Literal["offline"] = "offline"
    default_tts_provider: Literal["espeak"] = "espeak"
    speech_concurrency: int = Field(default=8, ge=1, le=64)

    # Worker
    worker_max_concurrent_activities: int = Field(default=16, ge=1)
    worker_graceful_shutdown_seconds: float = Field(default=10.0, ge=0)

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
