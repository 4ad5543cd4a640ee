"""Fixtures: every test gets its own freshly migrated and seeded SQLite database.

Migrating and seeding happen once per run into a template file; each test then works on a copy,
so tests are isolated without paying for the migrations every time.
"""

import gettext
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pycountry
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, make_url

from app.config import Settings
from app.data.engine import make_engine
from app.data.version import VersionReader
from app.main import PROJECT_ROOT, create_app
from seed.loader import DEFAULT_FILE, load_file

# Set by .ci/run for its second pass: the whole suite then runs on PostgreSQL, each test on a
# database of its own made from a migrated, seeded template (CREATE DATABASE ... TEMPLATE).
# Files the tests read: exports written by earlier versions of the service.
FIXTURES = Path(__file__).with_name("fixtures")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
# The dataset version once the seed is loaded: each record it creates is a change of its own.
SEED_VERSION = sum(map(len, json.loads(DEFAULT_FILE.read_text(encoding="utf-8")).values()))
BACKEND = "postgresql" if POSTGRES_URL else "sqlite"


# The languages of the six countries, in which countries carry `names` (the contract's list).
NAME_LANGUAGES = ("zh", "ru", "kk", "ky", "tg", "tk", "uz")


def pycountry_names(alpha_3: str) -> dict[str, str]:
    """The country's name in each of those languages whose ISO 3166-1 list, as pycountry ships
    it, translates the name: a missing, empty or English "translation" is none."""
    english = pycountry.countries.get(alpha_3=alpha_3).name
    names = {}
    for language in NAME_LANGUAGES:
        catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        name = catalog.gettext(english)
        if name.strip() and name != english:
            names[language] = name
    return names


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def migrate(database_url: str, revision: str = "head") -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, revision)


class Databases:
    """Fresh databases for tests: SQLite files, or databases on a PostgreSQL server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.created: list[str] = []
        self.admin = (
            create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT") if POSTGRES_URL else None
        )

    def _name(self) -> str:
        name = f"summit_test_{os.getpid()}_{len(self.created)}"
        self.created.append(name)
        return name

    def empty(self) -> str:
        """The URL of a new database with nothing in it."""
        return self.copy(None)

    def copy(self, template_url: str | None) -> str:
        """The URL of a new database holding what `template_url`'s holds (nothing if None)."""
        name = self._name()
        if self.admin is None:
            path = self.directory / f"{name}.db"
            if template_url is not None:
                shutil.copyfile(template_url.removeprefix("sqlite:///"), path)
            return sqlite_url(path)
        template = "" if template_url is None else f" TEMPLATE {make_url(template_url).database}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}{template}")
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as connection:
            for name in self.created:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    databases = Databases(tmp_path_factory.mktemp("databases"))
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def template_database(databases: Databases) -> str:
    """The URL of a database migrated and seeded once per run, for tests to copy."""
    url = databases.empty()
    migrate(url)
    engine = make_engine(url)
    load_file(engine)
    engine.dispose()
    return url


@pytest.fixture
def database_url(databases: Databases, template_database: str) -> str:
    """A database of this test's own, migrated and seeded."""
    return databases.copy(template_database)


@pytest.fixture
def empty_database_url(databases: Databases) -> str:
    return databases.empty()


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


def app_client(app: FastAPI, **options: Any) -> httpx.AsyncClient:
    """A client that calls `app` in this process; use it as `async with app_client(app)`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", **options
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


EDITOR_KEY = "editor-secret-0123456789"
BOT_KEY = "bot-secret-abcdefghijklmn"
API_KEYS = f"editor:{EDITOR_KEY},bot:{BOT_KEY}"


@pytest.fixture
async def writer(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with API keys configured, sending the editor's key."""
    app = create_app(Settings(database_url=database_url, summit_api_keys=API_KEYS))
    async with app_client(app, headers={"Authorization": f"Bearer {EDITOR_KEY}"}) as client:
        yield client


@pytest.fixture(autouse=True)
def dispose_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the connections of every app a test made: the in-process client runs no lifespan,
    and a PostgreSQL server refuses clients past its limit."""
    import app.main

    engines: list[Engine] = []
    trackers: list[VersionReader] = []

    def make_and_remember(*args, **kwargs):  # type: ignore[no-untyped-def]
        engine = make_engine(*args, **kwargs)
        engines.append(engine)
        return engine

    def track_and_remember(engine: Engine, **options: Any) -> VersionReader:
        trackers.append(VersionReader(engine, **options))
        return trackers[-1]

    monkeypatch.setattr(app.main, "make_engine", make_and_remember)
    monkeypatch.setattr(app.main, "VersionReader", track_and_remember)
    yield
    for tracker in trackers:
        tracker.close()
    for engine in engines:
        engine.dispose()


def assert_problem(response, status: int) -> dict:
    """Checks that `response` is an RFC 9457 problem with `status` and no trace; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert "Traceback" not in response.text
    return problem


def edited_seed(tmp_path: Path, edit) -> Path:
    """A copy of the seed file (and the article beside it) with `edit` applied to its data."""
    data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    edit(data)
    shutil.copy(DEFAULT_FILE.with_name("source-document.txt"), tmp_path)
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@contextmanager
def logged(logger: str) -> Iterator[list[str]]:
    """The messages logger `logger` (and those below it) emits while the block runs."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect()
    logging.getLogger(logger).addHandler(handler)
    try:
        yield messages
    finally:
        logging.getLogger(logger).removeHandler(handler)
