"""Caches that survive writes elsewhere: a write changes the ETag of every answer that reads
what it changed (a summit's detail embeds its commitments; search, the timeline, the export and
the feed read everything), at once, in this process and in another; every other answer keeps
its ETag and is still sent from the cache, without a query."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from tests.conftest import API_KEYS, EDITOR_KEY, app_client

pytestmark = pytest.mark.anyio

TRADE_STATISTIC = {
    "id": "cache-test-figure",
    "year": 2023,
    "reporter": "CHN",
    "partners": ["KAZ"],
    "flow": "export",
    "value": 1_000_000,
    "currency": "USD",
    "sources": [{"source": "iso-4217", "fields": ["currency"]}],
    "derivations": [
        {
            "fields": ["year", "reporter", "flow", "value", "partners"],
            "basis": "inferred",
            "note": "A test write: made up.",
        }
    ],
}
# What reads the trade statistics (or everything): each must change when one is created.
READS_TRADE = [
    "/api/v1/trade-statistics",
    "/api/v1/trade-statistics?facet=currency",
    "/api/v1/export",
    "/api/v1/search?q=trade",
    "/api/v1/timeline",
    "/api/v1/feed",
    "/trade-statistics",
    "/",
]
# What does not: each must keep its ETag and come from the cache.
READS_NO_TRADE = [
    "/api/v1/countries",
    "/api/v1/countries/KAZ",
    "/api/v1/summits/2",
    "/api/v1/commitments?summit=2",
    "/api/v1/people",
    "/summits/2",
]
HTML = {"Accept": "text/html"}


def headers_for(path: str) -> dict[str, str]:
    return HTML if not path.startswith("/api/") else {}


async def etags(client: httpx.AsyncClient, paths: list[str]) -> dict[str, str]:
    found = {}
    for path in paths:
        response = await client.get(path, headers=headers_for(path))
        assert response.status_code == 200, (path, response.text)
        found[path] = response.headers["etag"]
    return found


async def check_what_moved(reader: httpx.AsyncClient, writer: httpx.AsyncClient, app) -> None:
    paths = READS_TRADE + READS_NO_TRADE
    before = await etags(reader, paths)
    await etags(reader, paths)  # each answer is now kept
    created = await writer.post("/api/v1/trade-statistics", json=TRADE_STATISTIC)
    assert created.status_code == 201, created.text
    version = created.headers["x-dataset-version"]

    statements: list[str] = []
    event.listen(
        app.state.database.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    for path in READS_NO_TRADE:
        again = await reader.get(path, headers={**headers_for(path), "If-None-Match": before[path]})
        assert again.status_code == 304, path
        assert again.headers["x-dataset-version"] == version  # the answer holds at it
        full = await reader.get(path, headers=headers_for(path))
        assert full.headers["etag"] == before[path], path
    assert statements == []  # all from the cache
    for path in READS_TRADE:
        after = await reader.get(path, headers={**headers_for(path), "If-None-Match": before[path]})
        assert after.status_code == 200, path
        assert after.headers["etag"] != before[path], path
    listed = await reader.get("/api/v1/trade-statistics?fields=id")
    assert "cache-test-figure" in {item["id"] for item in listed.json()["items"]}

    # A commitment of the second summit is in that summit's detail: its answers move.
    summit = await etags(reader, ["/api/v1/summits/2", "/summits/2", "/api/v1/countries/KAZ"])
    patched = await writer.patch(
        "/api/v1/commitments/training-opportunities", json={"quantity": 3001}
    )
    assert patched.status_code == 200, patched.text
    after = await etags(reader, list(summit))
    assert after["/api/v1/summits/2"] != summit["/api/v1/summits/2"]
    assert after["/summits/2"] != summit["/summits/2"]
    assert after["/api/v1/countries/KAZ"] == summit["/api/v1/countries/KAZ"]  # embeds none
    detail = (await reader.get("/api/v1/summits/2")).json()
    quantities = {c["id"]: c["quantity"] for c in detail["commitments"]}
    assert quantities["training-opportunities"] == 3001


def keyed_app(database_url: str) -> FastAPI:
    return create_app(Settings(database_url=database_url, summit_api_keys=API_KEYS))


@asynccontextmanager
async def reading_and_writing(
    app: FastAPI, writer_app: FastAPI | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A client of `app` sending no key (whose reads are cached), and one of `writer_app` (the
    same app unless given) sending the editor's."""
    editor = {"Authorization": f"Bearer {EDITOR_KEY}"}
    async with (
        app_client(app) as reader,
        app_client(writer_app or app, headers=editor) as writer,
    ):
        yield reader, writer


async def test_a_write_changes_only_the_answers_that_read_it(database_url):
    app = keyed_app(database_url)
    async with reading_and_writing(app) as (reader, writer):
        await check_what_moved(reader, writer, app)


async def test_a_write_through_another_process_changes_the_same_answers(database_url):
    """Two apps on one database stand for two processes, each with its own cache and its own
    watch on the database."""
    reader_app = create_app(Settings(database_url=database_url))
    async with reading_and_writing(reader_app, keyed_app(database_url)) as (reader, writer):
        await check_what_moved(reader, writer, reader_app)


async def test_a_new_quote_changes_the_page_of_the_source_it_marks(database_url):
    app = keyed_app(database_url)
    async with reading_and_writing(app) as (reader, writer):
        await check_the_source_page(reader, writer)


async def check_the_source_page(reader: httpx.AsyncClient, writer: httpx.AsyncClient) -> None:
    person = {
        "name": "Quoted Person",
        "roles": ["witness"],
        "sources": [{"source": "article", "quote": "witnessed the signing", "fields": ["roles"]}],
        "derivations": [{"fields": ["name"], "basis": "inferred", "note": "A test's."}],
    }
    paths = ["/sources/article", "/api/v1/sources/article", "/api/v1/sources/article/annotations"]
    before = await etags(reader, paths)
    assert (await writer.post("/api/v1/people", json=person)).status_code == 201
    after = await etags(reader, paths)
    assert after["/sources/article"] != before["/sources/article"]  # marks the new quote
    assert "Quoted Person" in (await reader.get("/sources/article", headers=HTML)).text
    annotations = after["/api/v1/sources/article/annotations"]
    assert annotations != before["/api/v1/sources/article/annotations"]
    # The source itself (its metadata and text) is as it was.
    assert after["/api/v1/sources/article"] == before["/api/v1/sources/article"]


async def test_a_delete_changes_the_answers_that_showed_the_entity(database_url):
    app = keyed_app(database_url)
    async with reading_and_writing(app) as (reader, writer):
        before = await etags(reader, ["/api/v1/summits/2", "/api/v1/people"])
        deleted = await writer.delete("/api/v1/commitments/training-opportunities")
        assert deleted.status_code == 204, deleted.text
        after = await etags(reader, list(before))
    assert after["/api/v1/summits/2"] != before["/api/v1/summits/2"]
    assert after["/api/v1/people"] == before["/api/v1/people"]


async def test_an_unfiltered_total_is_counted_again_after_each_change(writer):
    """The size of a collection is kept between requests, as of its last change."""

    async def total(query: str = "") -> int:
        return (await writer.get(f"/api/v1/trade-statistics?limit=1{query}")).json()["total"]

    before = await total()
    assert before == await total("&sort=-year") == await total("&year__gte=1900")
    assert (await writer.post("/api/v1/trade-statistics", json=TRADE_STATISTIC)).status_code == 201
    assert await total() == before + 1 == await total("&year__gte=1900")
    gone = await writer.delete(f"/api/v1/trade-statistics/{TRADE_STATISTIC['id']}")
    assert gone.status_code == 204
    assert await total() == before
