"""Configuration, read once from the environment."""

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

API_PREFIX = "/api/v1"
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class ApiKey:
    """A key that may write: its `name` is what the audit trail records. A key with a `scope`
    writes only those collections and cannot read the audit trail; None: everything."""

    name: str
    secret: str = field(repr=False)
    scope: frozenset[str] | None = None

    def describe(self) -> str:
        """What the key may do, for the start-up log: never the secret."""
        reach = ", ".join(sorted(self.scope)) if self.scope else "every collection and /changes"
        return f"{self.name} ({reach})"


class Settings(BaseSettings):
    """Every setting the service reads; each has a default that works on a laptop."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = "sqlite:///./data/summit.db"
    # How long a SQLite connection waits for a writer's lock before failing.
    sqlite_busy_timeout_ms: int = 5000
    # API keys for writes, `name:secret` pairs separated by commas; the name is what the audit
    # trail records. Empty: every write answers 401.
    summit_api_keys: SecretStr = SecretStr("")
    # The longest any one statement may run, in milliseconds: PostgreSQL's statement_timeout,
    # SQLite's progress handler; past it the request answers 503. 0: no limit.
    query_timeout_ms: int = Field(5000, ge=0)
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
    # Open change streams (`/feed` as Server-Sent Events) one process holds at most; past it,
    # 503. Each costs memory, not a database connection.
    max_streams: int = Field(1000, ge=0)
    # Seconds between comment lines on an idle stream, which keep proxies from closing it.
    stream_heartbeat_seconds: float = Field(15.0, gt=0, le=15)
    # How often, on SQLite, a process with open streams looks for changes made elsewhere.
    stream_poll_seconds: float = Field(0.5, gt=0, le=2)
    # On PostgreSQL, where each change is notified, how often a process reads the version all
    # the same (for its streams, and for its cached answers): in case a notification was lost
    # with its connection.
    stream_safety_seconds: float = Field(5.0, gt=0)
    # Requests each client may send, as the `limits` library writes it (`600/minute`); a client
    # is its API key's name, else its address. Empty: no limit.
    rate_limit: str = ""
    # Where the counts are kept: `memory://` (each process its own) or `redis://host:6379`
    # (shared by every process and replica).
    rate_limit_storage: str = "memory://"
    # Origins whose pages may read the API from a browser (CORS); "*" is any. Comma-separated
    # in the environment: CORS_ORIGINS=https://a.example,https://b.example
    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def api_keys(self) -> dict[str, ApiKey]:
        """The configured keys by name, from `name:secret` or `name:secret:collection+collection`
        entries; a malformed entry is refused by its position and name only."""
        keys: dict[str, ApiKey] = {}
        for position, entry in enumerate(self.summit_api_keys.get_secret_value().split(","), 1):
            if entry.strip():
                key = _parse_key(entry.strip(), position)
                keys[key.name] = key
        return keys


def _parse_key(entry: str, position: int) -> ApiKey:
    name, _, rest = entry.partition(":")
    secret, scoped, scope = rest.partition(":")
    if not name or len(secret) < MIN_SECRET_LENGTH or ":" in scope:
        raise ValueError(
            f"SUMMIT_API_KEYS entry {position} must be name:secret or"
            f" name:secret:collection+collection, with a secret of at least"
            f" {MIN_SECRET_LENGTH} characters and no colon"
        )
    if not scoped:
        return ApiKey(name, secret)
    collections = frozenset(scope.split("+"))
    if "" in collections:
        raise ValueError(f"SUMMIT_API_KEYS entry {position} ({name}): name its collections")
    return ApiKey(name, secret, collections)


@lru_cache
def get_settings() -> Settings:
    return Settings()
