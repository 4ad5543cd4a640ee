"""The request record: an X-Request-ID kept when sane and made otherwise, and one JSON access-log
line per request."""

import json

import pytest

from tests.conftest import logged

pytestmark = pytest.mark.anyio


async def test_request_id_is_kept_when_sane_and_made_otherwise(client):
    kept = await client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
    assert kept.headers["x-request-id"] == "trace-42.a:b"
    for offered in ("has spaces", "x" * 200, "<script>"):
        made = await client.get("/healthz", headers={"X-Request-ID": offered})
        assert made.headers["x-request-id"] != offered
        assert len(made.headers["x-request-id"]) == 32
    missing = await client.get("/api/v1/nowhere")
    assert len(missing.headers["x-request-id"]) == 32


async def test_access_log_is_one_json_line_per_request(client):
    with logged("app.access") as lines:
        await client.get("/api/v1/summits/2", headers={"X-Request-ID": "log-test"})
        await client.get("/api/v1/summits/9")
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 2
    first = entries[0]
    assert (first["request_id"], first["method"], first["path"], first["status"]) == (
        "log-test",
        "GET",
        "/api/v1/summits/2",
        200,
    )
    assert entries[1]["status"] == 404
    assert all(isinstance(e["duration_ms"], float) for e in entries)
