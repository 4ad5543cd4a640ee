"""CORS: any origin reads without credentials, or only the configured ones; cached answers and
304s carry the headers of their own origin; a preflight costs no database lookup."""

import pytest

from app.config import Settings
from app.main import create_app
from app.middleware.caching import RequestKey, answer_reads, entity_tag
from tests.conftest import app_client

pytestmark = pytest.mark.anyio


async def test_cors_lets_any_origin_read_without_credentials(client):
    response = await client.get("/api/v1/countries", headers={"Origin": "https://a.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "ETag" in response.headers["access-control-expose-headers"]
    preflight = await client.options(
        "/api/v1/countries",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["access-control-allow-methods"]


async def test_cors_origins_are_configurable(database_url):
    app = create_app(Settings(database_url=database_url, cors_origins="https://ok.example"))
    async with app_client(app) as client:
        allowed = await client.get("/healthz", headers={"Origin": "https://ok.example"})
        refused = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://ok.example"
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("cache_entries", [2048, 0], ids=["cached", "uncached"])
async def test_cached_answers_and_304s_carry_the_cors_headers_of_their_origin(
    database_url, cache_entries
):
    settings = Settings(
        database_url=database_url,
        cors_origins="https://ok.example",
        response_cache_entries=cache_entries,
    )
    app = create_app(settings)
    async with app_client(app) as client:
        plain = await client.get("/api/v1/countries")
        ok = await client.get("/api/v1/countries", headers={"Origin": "https://ok.example"})
        ok_again = await client.get("/api/v1/countries", headers={"Origin": "https://ok.example"})
        evil = await client.get("/api/v1/countries", headers={"Origin": "https://evil.example"})
        revalidated = await client.get(
            "/api/v1/countries",
            headers={"Origin": "https://ok.example", "If-None-Match": plain.headers["etag"]},
        )
    assert "access-control-allow-origin" not in plain.headers
    for answer in (ok, ok_again, revalidated):
        assert answer.headers["access-control-allow-origin"] == "https://ok.example"
    assert "access-control-allow-origin" not in evil.headers
    # One representation, whatever the origin: one ETag; Origin is named once in Vary.
    assert {ok.headers["etag"], evil.headers["etag"]} == {plain.headers["etag"]}
    assert ok.headers["vary"] == "Accept, Accept-Encoding, Origin"
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert "content-type" not in revalidated.headers
    assert (
        "content-length" not in revalidated.headers or revalidated.headers["content-length"] == "0"
    )
    assert revalidated.headers["etag"] == plain.headers["etag"]
    assert revalidated.headers["cache-control"] == "public, max-age=60"
    assert revalidated.headers["vary"] == "Accept, Accept-Encoding, Origin"
    assert revalidated.headers["x-dataset-version"] == plain.headers["x-dataset-version"]
    assert len(app.state.response_cache) == (3 if cache_entries else 0)


async def test_every_origin_shares_one_cached_answer_when_all_are_allowed(app, client):
    for origin in ("https://a.example", "https://b.example", "https://c.example"):
        answer = await client.get("/api/v1/countries", headers={"Origin": origin})
        assert answer.headers["access-control-allow-origin"] == "*"
    # What CORS answers is the same for every origin here: one entry, not one per origin.
    assert len(app.state.response_cache) == 1


async def test_a_cross_origin_revalidation_that_finds_no_entity_is_answered_in_full(database_url):
    app = create_app(Settings(database_url=database_url))
    state = app.state.dataset_version.state()
    # The tag a 200 would have had: the route runs (the CORS headers are not known yet) and
    # answers 404, which must reach the client whole, not as a 304 or an empty body.
    key = RequestKey(
        path="/api/v1/summits/9", query=b"", accept="*/*", accepts_gzip=True, origin_class="*"
    )
    read = state.version_of(answer_reads(key.path))
    tag = entity_tag(key, read, current=state.version, build=app.state.schema_head)
    headers = {"Origin": "https://a.example", "If-None-Match": tag}
    async with app_client(app) as client:
        missing = await client.get(
            "/api/v1/summits/9", headers={**headers, "Accept": "*/*", "Accept-Encoding": "gzip"}
        )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404


async def test_a_preflight_costs_no_version_lookup(app, client):
    lookups = app.state.dataset_version.lookups
    preflight = await client.options(
        "/api/v1/countries",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert app.state.dataset_version.lookups == lookups
    assert "x-dataset-version" not in preflight.headers
