"""Liveness and readiness."""

import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import app_client

pytestmark = pytest.mark.anyio


async def test_healthz(client):
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "checks": None})


async def test_ready_when_migrated_and_seeded(client):
    body = (await client.get("/readyz")).json()
    assert body == {"status": "ok", "checks": {"database": True, "migrated": True, "seeded": True}}


async def test_not_ready_on_an_empty_database(empty_database_url):
    app = create_app(Settings(database_url=empty_database_url))
    async with app_client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "migrated": False, "seeded": False}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_an_unreachable_database_fails_readiness_and_answers_503(tmp_path, backend):
    url = {
        "sqlite": f"sqlite:///{tmp_path / 'no-such-directory' / 'summit.db'}",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/summit",  # nothing listens
    }[backend]
    app = create_app(Settings(database_url=url))
    async with app_client(app) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
        data = await client.get("/api/v1/countries")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": False, "migrated": False, "seeded": False},
    }
    assert alive.status_code == 200  # the process lives: restarting it would not help
    assert data.status_code == 503
    assert data.headers["content-type"] == "application/problem+json"
    assert data.headers["retry-after"] == "5"
    assert data.headers["cache-control"] == "no-store"
    assert data.json()["detail"] == "The database cannot be reached just now; try again shortly."
