"""Fixtures: every test gets its own freshly migrated and seeded SQLite database.

Migrating and seeding happen once per run into a template file; each test then works on a copy,
so tests are isolated without paying for the migrations every time.
"""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import Engine

from app.config import Settings
from app.db import make_engine
from app.main import PROJECT_ROOT, create_app
from seed.loader import load_file


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def migrate(database_url: str, revision: str = "head") -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, revision)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "summit.db"
    migrate(sqlite_url(path))
    engine = make_engine(sqlite_url(path))
    load_file(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_path(tmp_path: Path, template_database: Path) -> Path:
    path = tmp_path / "summit.db"
    shutil.copyfile(template_database, path)
    return path


@pytest.fixture
def database_url(database_path: Path) -> str:
    return sqlite_url(database_path)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(database_url: str) -> FastAPI:
    return create_app(Settings(database_url=database_url))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


EDITOR_KEY = "editor-secret-0123456789"
BOT_KEY = "bot-secret-abcdefghijklmn"
API_KEYS = f"editor:{EDITOR_KEY},bot:{BOT_KEY}"


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with API keys configured, sending the editor's key."""
    app = create_app(Settings(database_url=database_url, summit_api_keys=API_KEYS))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {EDITOR_KEY}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        yield client
