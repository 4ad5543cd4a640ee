"""The request record: an X-Request-ID kept when sane and made otherwise (the access-log line it
writes per request is read from a real server's stdout in tests/service/test_access_log.py)."""

import pytest

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
