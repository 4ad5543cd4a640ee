"""Configuration, read once from the environment."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the service reads; each has a default that works on a laptop."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    database_url: str = "sqlite:///./data/summit.db"
    # How long a SQLite connection waits for a writer's lock before failing.
    sqlite_busy_timeout_ms: int = 5000


@lru_cache
def get_settings() -> Settings:
    return Settings()
