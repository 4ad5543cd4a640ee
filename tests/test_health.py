"""Liveness and readiness."""

import pytest

from app.config import Settings
from app.main import create_app

pytestmark = pytest.mark.anyio


async def test_healthz(client):
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "checks": None})


async def test_ready_when_migrated_and_seeded(client):
    body = (await client.get("/readyz")).json()
    assert body == {"status": "ok", "checks": {"database": True, "migrated": True, "seeded": True}}


async def test_not_ready_on_an_empty_database(empty_database_url):
    import httpx

    app = create_app(Settings(database_url=empty_database_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "migrated": False, "seeded": False}
