"""The service as an HTTP citizen: caching, compression, CORS, request ids, logs, security
headers, HEAD, and bad input answered as problems."""

import json
import logging

import pytest
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from app.middleware.caching import CachedResponse, RequestKey, ResponseCache, entity_tag
from seed.loader import DEFAULT_FILE, load, parse
from tests.conftest import API_KEYS, EDITOR_KEY, app_client

pytestmark = pytest.mark.anyio


async def test_strong_etag_and_304_cost_one_version_lookup(database_url):
    app = create_app(Settings(database_url=database_url))
    async with app_client(app) as client:
        await check_etag_and_304(app, client)


async def check_etag_and_304(app, client):
    first = await client.get("/api/v1/countries")
    etag = first.headers["etag"]
    assert etag.startswith('"v1-') and not etag.startswith("W/")
    assert first.headers["x-dataset-version"] == "1"
    assert first.headers["cache-control"] == "public, max-age=60"

    statements: list[str] = []
    event.listen(
        app.state.database.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    lookups = app.state.dataset_version.lookups
    again = await client.get("/api/v1/countries", headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    # The one statement a 304 costs is the version lookup, on the driver, not the ORM.
    assert statements == []
    assert app.state.dataset_version.lookups == lookups + 1

    weak = await client.get("/api/v1/countries", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    other = await client.get("/api/v1/countries?limit=2", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


async def test_etag_moves_when_the_data_changes(database_url, engine, tmp_path):
    app = create_app(Settings(database_url=database_url))
    async with app_client(app) as client:
        before = await client.get("/api/v1/countries/CHN")
        data = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
        data["countries"][0]["capital"] = "Peking"
        (tmp_path / "source-document.txt").write_bytes(
            DEFAULT_FILE.with_name("source-document.txt").read_bytes()
        )
        path = tmp_path / "data.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        assert load(engine, parse(path)).version == 2

        after = await client.get(
            "/api/v1/countries/CHN", headers={"If-None-Match": before.headers["etag"]}
        )
    assert after.status_code == 200
    assert after.json()["capital"] == "Peking"
    assert after.headers["x-dataset-version"] == "2"
    assert after.headers["etag"] != before.headers["etag"]


async def test_a_repeated_read_is_served_from_the_cache_without_a_query(app, client):
    first = await client.get("/api/v1/summits/2", headers={"X-Request-ID": "first"})
    statements: list[str] = []
    event.listen(
        app.state.database.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    again = await client.get("/api/v1/summits/2", headers={"X-Request-ID": "again"})
    assert statements == []
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    # What differs per request is made per request, not kept with the cached answer.
    assert (first.headers["x-request-id"], again.headers["x-request-id"]) == ("first", "again")
    assert again.headers.get_list("x-request-id") == ["again"]
    assert again.headers["x-content-type-options"] == "nosniff"
    # Another representation of the same resource is another answer.
    csv = await client.get("/api/v1/countries", headers={"Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv") and statements


def test_the_cache_keeps_bodies_within_its_byte_budget():
    cache = ResponseCache(max_entries=100, max_bytes=800)  # an answer may hold 100 bytes

    def answer(size: int) -> CachedResponse:
        return CachedResponse('"v1-x"', 200, [], b"x" * size, [])

    def key(name: str) -> RequestKey:
        return RequestKey(name, b"", "", False, "")

    assert cache.get(1, key("a")) is None  # the first lookup of version 1
    for name in "abcdefgh":
        cache.put(1, key(name), answer(100))
    assert (len(cache), cache.body_bytes) == (8, 800)
    cache.put(1, key("big"), answer(101))  # over an eighth of the budget: not kept
    assert cache.get(1, key("big")) is None and len(cache) == 8
    cache.get(1, key("a"))  # used: "b" is now the least recently used
    cache.put(1, key("i"), answer(100))
    assert cache.get(1, key("b")) is None
    assert cache.get(1, key("a")) is not None and cache.body_bytes == 800
    cache.put(1, key("a"), answer(50))  # a replaced answer gives its bytes back
    assert cache.body_bytes == 750
    assert cache.get(2, key("a")) is None and (len(cache), cache.body_bytes) == (0, 0)
    for name in ("tiny1", "tiny2"):
        cache.put(2, key(name), answer(10))
    for name in "1234567":
        cache.put(2, key(name), answer(100))
    cache.put(2, key("8"), answer(100))  # 820 bytes: both tiny ones go, the least recent
    assert cache.get(2, key("tiny1")) is None and cache.get(2, key("tiny2")) is None
    assert (len(cache), cache.body_bytes) == (8, 800)
    for off in (ResponseCache(max_bytes=0), ResponseCache(max_entries=0)):
        off.get(1, key("a"))
        off.put(1, key("a"), answer(0))
        assert len(off) == 0  # a cache switched off keeps nothing, not even an empty body


async def test_an_answer_over_an_eighth_of_the_byte_budget_is_sent_but_not_kept(database_url):
    app = create_app(Settings(database_url=database_url, response_cache_bytes=8 * 4096))
    statements: list[str] = []
    event.listen(
        app.state.database.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    headers = {"Accept-Encoding": ""}
    async with app_client(app) as client:
        small = await client.get("/api/v1/countries?fields=id", headers=headers)
        large = await client.get("/api/v1/summits/2", headers=headers)
        assert len(small.content) <= 4096 < len(large.content)
        assert large.status_code == 200 and large.json()["number"] == 2
        assert app.state.response_cache.body_bytes == len(small.content)
        statements.clear()
        again = await client.get("/api/v1/summits/2", headers=headers)
        assert statements  # the route ran again
        statements.clear()
        await client.get("/api/v1/countries?fields=id", headers=headers)
        assert statements == []  # the small one was kept
    assert again.content == large.content and again.headers["etag"] == large.headers["etag"]


async def test_a_streamed_export_is_sent_whole_but_never_kept(app, client):
    first = await client.get("/api/v1/export/countries")
    again = await client.get("/api/v1/export/countries")
    assert first.status_code == again.status_code == 200
    assert first.text.startswith("id,") and first.text.count("\r\n") == 7  # header and 6 rows
    assert again.content == first.content
    assert len(app.state.response_cache) == 0
    page = await client.get("/api/v1/countries", headers={"Accept": "text/csv"})
    assert page.text.count("\r\n") == 7
    assert len(app.state.response_cache) == 1  # a CSV page is made whole, and kept


async def test_a_write_through_another_process_is_seen_at_once(database_url):
    """Two apps on one database stand for two processes: neither waits to see the other's
    write, and the ETag a client holds stops matching at once."""
    reader_app = create_app(Settings(database_url=database_url))
    writer_app = create_app(Settings(database_url=database_url, summit_api_keys=API_KEYS))
    async with (
        app_client(reader_app) as r,
        app_client(writer_app, headers={"Authorization": f"Bearer {EDITOR_KEY}"}) as w,
    ):
        before = await r.get("/api/v1/countries/KAZ")
        assert (await r.get("/api/v1/countries/KAZ")).content == before.content  # now cached
        changed = await w.patch("/api/v1/countries/KAZ", json={"capital": "Nur-Sultan"})
        assert changed.status_code == 200
        after = await r.get(
            "/api/v1/countries/KAZ", headers={"If-None-Match": before.headers["etag"]}
        )
    assert after.status_code == 200
    assert after.json()["capital"] == "Nur-Sultan"
    assert int(after.headers["x-dataset-version"]) == int(before.headers["x-dataset-version"]) + 1
    assert after.headers["etag"] != before.headers["etag"]


@pytest.mark.parametrize(
    ("path", "headers", "cache_control"),
    [
        ("/api/v1/summits/9", {}, "no-store"),
        ("/healthz", {}, "no-store"),
        ("/api/v1/countries", {"Authorization": "Bearer something"}, "no-store"),
        ("/openapi.json", {}, "public, max-age=300"),
    ],
)
async def test_cache_control_on_every_response(client, path, headers, cache_control):
    response = await client.get(path, headers=headers)
    assert response.headers["cache-control"] == cache_control
    if cache_control == "no-store":
        assert "etag" not in response.headers


async def test_vary_names_what_changes_the_representation(client):
    response = await client.get("/api/v1/countries")
    varies = {v.strip() for v in response.headers["vary"].split(",")}
    assert {"Accept", "Accept-Encoding"} <= varies


async def test_gzip_over_a_kilobyte_only(client):
    big = await client.get("/api/v1/countries", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert int(big.headers["content-length"]) < 1024 < len(big.content)  # sent compressed
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    plain = await client.get("/api/v1/countries", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == big.json()


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
    version = app.state.dataset_version.current()
    # The tag a 200 would have had: the route runs (the CORS headers are not known yet) and
    # answers 404, which must reach the client whole, not as a 304 or an empty body.
    key = RequestKey(
        path="/api/v1/summits/9", query=b"", accept="*/*", accepts_gzip=True, origin_class="*"
    )
    headers = {"Origin": "https://a.example", "If-None-Match": entity_tag(key, version)}
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


async def test_head_is_answered_from_the_cache_without_a_body_and_not_kept(app):
    async def answer(method: str) -> tuple[int, dict[bytes, bytes], bytes]:
        """What the app itself sends: httpx would drop a HEAD's body however long."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": "/api/v1/summits/2",
            "raw_path": b"/api/v1/summits/2",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"t")],
            "client": ("127.0.0.1", 1),
            "server": ("t", 80),
        }
        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        await app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in messages[1:])
        return messages[0]["status"], dict(messages[0]["headers"]), body

    status, head, body = await answer("HEAD")
    assert (status, body) == (200, b"")
    assert len(app.state.response_cache) == 0  # a HEAD's empty body is not kept for a GET
    status, get, get_body = await answer("GET")
    assert status == 200 and json.loads(get_body)["number"] == 2
    assert len(app.state.response_cache) == 1
    status, head_again, body = await answer("HEAD")
    assert (status, body) == (200, b"")  # from the cache, still without the body
    assert head_again[b"etag"] == get[b"etag"] == head[b"etag"]
    assert head_again[b"content-length"] == get[b"content-length"] == str(len(get_body)).encode()


async def test_cached_answers_are_counted_in_the_metrics(client):
    for _ in range(3):
        await client.get("/api/v1/summits/2")
    etag = (await client.get("/api/v1/summits/2")).headers["etag"]
    await client.get("/api/v1/summits/2", headers={"If-None-Match": etag})
    text = (await client.get("/metrics")).text
    route = 'method="GET",route="/api/v1/summits/{number}"'
    assert f'http_requests_total{{{route},status="200"}} 4.0' in text
    assert f'http_requests_total{{{route},status="304"}} 1.0' in text


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
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    logging.getLogger("app.access").addHandler(handler)
    try:
        await client.get("/api/v1/summits/2", headers={"X-Request-ID": "log-test"})
        await client.get("/api/v1/summits/9")
    finally:
        logging.getLogger("app.access").removeHandler(handler)
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


@pytest.mark.parametrize("path", ["/api/v1/countries", "/api/v1/nowhere", "/healthz"])
async def test_security_headers_on_every_response(client, path):
    response = await client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_docs_pages_load_nothing_from_elsewhere(client):
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assert "https://" not in html and "http://" not in html, page
        assert "/static-offline-docs/" in html
    script = await client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_head_answers_like_get_without_a_body(client):
    get = await client.get("/api/v1/summits/2")
    head = await client.head("/api/v1/summits/2")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]
    assert (await client.head("/api/v1/summits/9")).status_code == 404
