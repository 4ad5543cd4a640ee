"""Configuration, read once from the environment."""

from functools import lru_cache
from typing import Annotated

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

API_PREFIX = "/api/v1"
MIN_SECRET_LENGTH = 16


class Settings(BaseSettings):
    """Every setting the service reads; each has a default that works on a laptop."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = "sqlite:///./data/summit.db"
    # How long a SQLite connection waits for a writer's lock before failing.
    sqlite_busy_timeout_ms: int = 5000
    # API keys for writes, `name:secret` pairs separated by commas; the name is what the audit
    # trail records. Empty: every write answers 401.
    summit_api_keys: SecretStr = SecretStr("")
    # The largest request body a write may send, in bytes.
    max_body_bytes: int = 1024 * 1024
    # How many whole answers each process keeps for the current dataset version; 0: none.
    response_cache_entries: int = 2048
    # How many bytes of answers' bodies each process keeps at most; an answer larger than an
    # eighth of this is not kept, nor is a streamed one (an export).
    response_cache_bytes: int = 64 * 1024 * 1024
    # FastAPI's OpenTelemetry traces, metrics and logs, for a process that configures an
    # OpenTelemetry SDK. Off: the service has its own metrics and access log, and the check for
    # a configured provider costs every request a few microseconds.
    opentelemetry: bool = False
    # Origins whose pages may read the API from a browser (CORS); "*" is any. Comma-separated
    # in the environment: CORS_ORIGINS=https://a.example,https://b.example
    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def api_keys(self) -> dict[str, str]:
        """The configured keys as {name: secret}; a malformed entry is refused by name only."""
        keys: dict[str, str] = {}
        for position, pair in enumerate(self.summit_api_keys.get_secret_value().split(","), 1):
            if not pair.strip():
                continue
            name, separator, secret = pair.strip().partition(":")
            if not separator or not name or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"SUMMIT_API_KEYS entry {position} must be name:secret with a secret of at"
                    f" least {MIN_SECRET_LENGTH} characters"
                )
            keys[name] = secret
        return keys


@lru_cache
def get_settings() -> Settings:
    return Settings()
