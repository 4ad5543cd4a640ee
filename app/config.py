"""Configuration, read once from the environment."""

from functools import lru_cache
from typing import Annotated

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

API_PREFIX = "/api/v1"


class Settings(BaseSettings):
    """Every setting the service reads; each has a default that works on a laptop."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = "sqlite:///./data/summit.db"
    # How long a SQLite connection waits for a writer's lock before failing.
    sqlite_busy_timeout_ms: int = 5000
    # How often each process re-reads the dataset version, to see other processes' writes.
    dataset_version_refresh_seconds: float = 1.0
    # Origins whose pages may read the API from a browser (CORS); "*" is any. Comma-separated
    # in the environment: CORS_ORIGINS=https://a.example,https://b.example
    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
