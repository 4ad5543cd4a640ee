"""Rate limits: counted per client before any other work, announced in the IETF RateLimit fields,
a 429 problem past them; never on health checks or metrics; shared by processes through Redis."""

import os
import re
import secrets
import socket
import time

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import API_KEYS, EDITOR_KEY, app_client, assert_problem, logged
from tests.server import running_server

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_answers() -> bool:
    host, port = REDIS_URL.removeprefix("redis://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


# .ci/run starts Redis and sets REQUIRE_REDIS=1, so there a missing Redis fails.
needs_redis = pytest.mark.skipif(
    not os.environ.get("REQUIRE_REDIS") and not _redis_answers(),
    reason=f"no Redis answers at {REDIS_URL} (.ci/run starts one)",
)


def limited_app(database_url: str, limit: str = "3/minute", **settings: str):
    return create_app(
        Settings(database_url=database_url, rate_limit=limit, summit_api_keys=API_KEYS, **settings)
    )


async def test_requests_past_the_limit_are_429_with_retry_after(database_url):
    async with app_client(limited_app(database_url)) as client:
        answers = [await client.get("/api/v1/countries") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    for answer in answers:
        assert answer.headers["ratelimit-policy"] == '"default";q=3;w=60'
    remaining = [
        re.fullmatch(r'"default";r=(\d+);t=(\d+)', a.headers["ratelimit"]) for a in answers
    ]
    assert [int(m.group(1)) for m in remaining if m] == [2, 1, 0, 0]
    assert all(0 < int(m.group(2)) <= 60 for m in remaining if m)
    refused = answers[3]
    problem = assert_problem(refused, 429)
    assert problem["detail"].startswith("More than 3 requests per minute: retry in")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # A refusal carries what every answer does, and is never kept as the collection's answer.
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in refused.headers and "etag" not in refused.headers


async def test_each_key_and_each_address_has_its_own_count(database_url):
    app = limited_app(database_url, limit="2/minute")
    async with app_client(app) as anonymous:
        keyed = {"Authorization": f"Bearer {EDITOR_KEY}"}
        statuses = [(await anonymous.get("/api/v1/countries")).status_code for _ in range(3)]
        with_key = [
            (await anonymous.get("/api/v1/countries", headers=keyed)).status_code for _ in range(3)
        ]
        # A key that is not valid is no identity: it counts against the address.
        wrong = await anonymous.get("/api/v1/countries", headers={"Authorization": "Bearer nope"})
    assert statuses == [200, 200, 429]
    assert with_key == [200, 200, 429]
    assert wrong.status_code == 429


async def test_health_checks_metrics_and_preflights_are_never_limited(database_url):
    async with app_client(limited_app(database_url, limit="1/minute")) as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            for _ in range(3):
                answer = await client.get(path)
                assert answer.status_code == 200 and "ratelimit" not in answer.headers
        preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "GET"}
        for _ in range(3):
            assert (await client.options("/api/v1/countries", headers=preflight)).status_code == 200
        assert (await client.get("/api/v1/countries")).status_code == 200
        cors = await client.get("/api/v1/countries", headers={"Origin": "https://a.example"})
    assert cors.status_code == 429
    assert cors.headers["access-control-allow-origin"] == "*"
    assert "Retry-After" in cors.headers["access-control-expose-headers"]


async def test_without_a_limit_nothing_is_counted_or_announced(client):
    answers = [await client.get("/api/v1/countries") for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert not any("ratelimit" in a.headers for a in answers)


def test_a_limit_that_does_not_parse_stops_the_start(database_url):
    with pytest.raises(ValueError, match="RATE_LIMIT"):
        limited_app(database_url, limit="lots")


async def test_an_unreachable_storage_serves_unlimited_and_says_so(database_url):
    app = limited_app(database_url, limit="1/minute", rate_limit_storage="redis://127.0.0.1:9")
    with logged("app") as messages:
        async with app_client(app) as client:
            statuses = [(await client.get("/api/v1/countries")).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    warnings = [m for m in messages if m.startswith("rate limit not applied")]
    assert len(warnings) == 1  # once a minute, not once a request


async def test_a_storage_that_never_answers_holds_no_request(database_url):
    """A Redis that takes the connection and says nothing (paused, or a black hole): each
    request waits a quarter of a second at most, then is served unlimited."""
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    app = limited_app(
        database_url, limit="1/minute", rate_limit_storage=f"redis://127.0.0.1:{port}"
    )
    try:
        async with app_client(app) as client:
            # The app's first request reads its route table from the OpenAPI document, which
            # takes seconds on a busy machine: not what this test measures.
            await client.get("/healthz")
            started = time.monotonic()
            statuses = [(await client.get("/api/v1/countries")).status_code for _ in range(3)]
            took = time.monotonic() - started
    finally:
        silent.close()
    assert statuses == [200, 200, 200]
    assert took < 3


@needs_redis
def test_processes_share_one_limit_through_redis(database_url):
    name = f"mirror-{secrets.token_hex(4)}"  # counters of their own, whatever ran before
    secret = secrets.token_hex(16)
    environment = {
        "RATE_LIMIT": "5/minute",
        "RATE_LIMIT_STORAGE": REDIS_URL,
        "SUMMIT_API_KEYS": f"{name}:{secret}",
    }
    headers = {"Authorization": f"Bearer {secret}"}
    with (
        running_server(database_url, **environment) as first,
        running_server(database_url, **environment) as second,
    ):
        answers = [
            httpx.get(f"{base}/api/v1/countries", headers=headers)
            for base in (first, second, first, second, first, second)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 429]
    assert [a.headers["ratelimit"].split(";")[1] for a in answers] == [
        "r=4",
        "r=3",
        "r=2",
        "r=1",
        "r=0",
        "r=0",
    ]
