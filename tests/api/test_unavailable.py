"""A database that cannot answer is a 503 problem with Retry-After on every data path, CSV and
exports included, on SQLite and PostgreSQL alike: never a 500, never a 200 that looks empty."""

import sqlite3

import pytest
from sqlalchemy import make_url, text

from app.config import Settings
from app.data.engine import make_engine
from app.main import create_app
from tests.conftest import BACKEND, app_client, assert_problem

pytestmark = pytest.mark.anyio

DATA_PATHS = [
    "/api/v1/countries",
    "/api/v1/countries?format=csv",
    "/api/v1/summits/1",
    "/api/v1/mechanism",
    "/api/v1/timeline",
    "/api/v1/search?q=summit",
    "/api/v1/export",
    "/api/v1/export/countries",
    "/api/v1/sources/article/annotations",
]


def assert_unavailable(response) -> dict:
    problem = assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0
    assert response.headers.get("cache-control") == "no-store"
    return problem


@pytest.mark.parametrize("path", DATA_PATHS)
async def test_an_unmigrated_database_is_503_on_every_data_path(empty_database_url, path):
    async with app_client(create_app(Settings(database_url=empty_database_url))) as client:
        response = await client.get(path)
        ready = await client.get("/readyz")
    problem = assert_unavailable(response)
    assert "not migrated" in problem["detail"]
    assert ready.status_code == 503 and ready.json()["checks"]["migrated"] is False


def drop_table(database_url: str, table: str) -> None:
    """As a database left behind by a failed or partial migration would be."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with sqlite3.connect(url.database or "") as connection:  # foreign keys off: not checked
            connection.execute(f"DROP TABLE {table}")
        return
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {table} CASCADE"))
    engine.dispose()


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ("commitment_party", "/api/v1/commitments"),
        ("country", "/api/v1/export/countries"),
        ("citation", "/api/v1/summits/2"),
    ],
)
async def test_a_missing_table_is_503_not_500(database_url, table, path):
    drop_table(database_url, table)
    async with app_client(create_app(Settings(database_url=database_url))) as client:
        response = await client.get(path)
        health = await client.get("/healthz")
    assert "not migrated" in assert_unavailable(response)["detail"]
    assert health.status_code == 200  # alive: only what needs the missing table fails


async def test_an_unreachable_database_is_503(tmp_path):
    nowhere = (
        "postgresql+psycopg://postgres@127.0.0.1:9/summit"  # nothing listens on port 9
        if BACKEND == "postgresql"
        else f"sqlite:///{tmp_path / 'no-such-directory' / 'summit.db'}"
    )
    async with app_client(create_app(Settings(database_url=nowhere))) as client:
        answers = [await client.get(path) for path in DATA_PATHS]
    for answer in answers:
        assert "cannot be reached" in assert_unavailable(answer)["detail"]
