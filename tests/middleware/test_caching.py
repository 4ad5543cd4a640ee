"""Conditional GET and the read cache: strong ETags and 304s, answers kept within a byte budget
and replayed without a query, Cache-Control and Vary, and a write anywhere seen at once."""

import pytest
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from app.middleware.caching import CachedResponse, RequestKey, ResponseCache, answer_reads
from seed.loader import load, parse
from tests.conftest import API_KEYS, EDITOR_KEY, SEED_VERSION, app_client, edited_seed

pytestmark = pytest.mark.anyio


async def test_strong_etag_and_304_cost_no_query(database_url):
    app = create_app(Settings(database_url=database_url))
    async with app_client(app) as client:
        await check_etag_and_304(app, client)


async def check_etag_and_304(app, client):
    first = await client.get("/api/v1/countries")
    etag = first.headers["etag"]
    # The version of what the list reads: the last seed record of those collections.
    state = app.state.dataset_version.state()
    read = state.version_of(answer_reads("/api/v1/countries"))
    assert read == max(state.collections[c] for c in ("countries", "summits", "agreements"))
    assert etag.startswith(f'"v{read}-') and not etag.startswith("W/")
    assert first.headers["x-dataset-version"] == str(SEED_VERSION)
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
    # A 304 costs no statement of the ORM, and no read of the versions: the database said
    # nothing changed (SQLite's data_version, PostgreSQL's notifications).
    assert statements == []
    assert app.state.dataset_version.lookups == lookups

    weak = await client.get("/api/v1/countries", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    other = await client.get("/api/v1/countries?limit=2", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


async def test_etag_moves_when_the_data_changes(database_url, engine, tmp_path):
    app = create_app(Settings(database_url=database_url))
    async with app_client(app) as client:
        before = await client.get("/api/v1/countries/CHN")
        path = edited_seed(tmp_path, lambda data: data["countries"][0].update(capital="Peking"))
        assert load(engine, parse(path)).version == SEED_VERSION + 1  # one record changed

        after = await client.get(
            "/api/v1/countries/CHN", headers={"If-None-Match": before.headers["etag"]}
        )
    assert after.status_code == 200
    assert after.json()["capital"] == "Peking"
    assert after.headers["x-dataset-version"] == str(SEED_VERSION + 1)
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
    # What "a" reads has moved on to version 2: it goes, the others stay.
    assert cache.get(2, key("a")) is None and (len(cache), cache.body_bytes) == (7, 700)
    assert cache.get(1, key("c")) is not None
    for name in ("tiny1", "tiny2"):
        cache.put(2, key(name), answer(10))
    cache.put(1, key("9"), answer(100))  # 820 bytes: "d", the least recent, goes
    assert cache.get(1, key("d")) is None and (len(cache), cache.body_bytes) == (9, 720)
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
