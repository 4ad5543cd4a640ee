"""The change feed as Server-Sent Events, from real server processes: replay, then live changes
made through this process or another, heartbeats, `Last-Event-ID`, the bound on open streams,
no database connection per idle stream, and SIGTERM ending every stream at once."""

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from app.data.engine import make_engine
from tests.conftest import API_KEYS, BACKEND, EDITOR_KEY, SEED_VERSION
from tests.server import running_server, server_process

STREAM = {"Accept": "text/event-stream"}
WRITER = {"Authorization": f"Bearer {EDITOR_KEY}"}
# On PostgreSQL, no safety read of the version within a test: a change arrives by NOTIFY or not.
QUICK = {
    "SUMMIT_API_KEYS": API_KEYS,
    "STREAM_HEARTBEAT_SECONDS": "0.5",
    "STREAM_SAFETY_SECONDS": "3600",
}
# How long a test waits for what it expects before it fails: generous, since this is not a
# measure of speed (the benchmark measures how fast a change arrives).
PATIENCE = 15


@dataclass
class Event:
    id: str | None
    event: str | None
    data: dict | None
    comment: str | None


def _events(response: httpx.Response) -> Iterator[Event]:
    """The events and comments of a Server-Sent Events stream, as they come."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Event(None, None, None, line[1:].strip())
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            data = json.loads(fields["data"]) if "data" in fields else None
            yield Event(fields.get("id"), fields.get("event"), data, None)
            fields = {}


@contextmanager
def _stream(base: str, path: str = "/api/v1/feed", **headers: str) -> Iterator[Iterator[Event]]:
    with httpx.stream(
        "GET", f"{base}{path}", headers={**STREAM, **headers}, timeout=PATIENCE
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert "etag" not in response.headers
        yield _events(response)


def _next_event(events: Iterator[Event]) -> Event:
    return next(e for e in events if e.comment is None)


def _patch_capital(base: str, capital: str) -> int:
    answer = httpx.patch(
        f"{base}/api/v1/countries/KAZ", json={"capital": capital}, headers=WRITER, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return int(answer.headers["x-dataset-version"])


def test_a_stream_replays_then_follows_changes_with_heartbeats_between(database_url):
    with (
        running_server(database_url, **QUICK) as base,
        _stream(base, f"/api/v1/feed?since={SEED_VERSION - 2}") as events,
    ):
        replayed = [_next_event(events), _next_event(events)]
        assert [e.id for e in replayed] == [str(SEED_VERSION - 1), str(SEED_VERSION)]
        assert {e.event for e in replayed} == {"create"}
        assert replayed[1].data["version"] == SEED_VERSION
        assert next(events).comment == "heartbeat"  # caught up, nothing new
        version = _patch_capital(base, "Nur-Sultan")
        live = _next_event(events)
        assert (live.id, live.event) == (str(version), "update")
        assert live.data["entity"]["capital"] == "Nur-Sultan"
        assert live.data["url"] == "/api/v1/countries/KAZ"
        assert "editor" not in json.dumps(live.data)


def test_a_stream_resumes_after_the_last_event_id(database_url):
    with running_server(database_url, **QUICK) as base:
        with _stream(
            base, "/api/v1/feed?since=0", **{"Last-Event-ID": str(SEED_VERSION - 1)}
        ) as events:
            assert _next_event(events).id == str(SEED_VERSION)
        for garbage in (b"x", b"\xb2", b"-1", b"12345678901"):  # \xb2: a superscript two
            headers = [(b"Accept", b"text/event-stream"), (b"Last-Event-ID", garbage)]
            answer = httpx.get(f"{base}/api/v1/feed", headers=headers)
            assert answer.status_code == 400, garbage
            assert answer.json()["errors"][0]["parameter"] == "Last-Event-ID"
        ahead = {**STREAM, "Last-Event-ID": str(SEED_VERSION + 1)}
        answer = httpx.get(f"{base}/api/v1/feed", headers=ahead)
        assert answer.json()["errors"][0]["parameter"] == "Last-Event-ID"
        past = httpx.get(f"{base}/api/v1/feed?since={SEED_VERSION + 1}", headers=STREAM)
        assert past.status_code == 400
        assert past.headers["content-type"] == "application/problem+json"
        assert past.json()["errors"][0]["parameter"] == "since"


def test_a_change_through_another_process_reaches_the_stream(database_url):
    """Two replicas on one database: a write through one reaches a stream open on the other
    (through NOTIFY on PostgreSQL, the version check on SQLite)."""
    with (
        running_server(database_url, **QUICK) as watched,
        running_server(database_url, **QUICK) as written,
        _stream(watched, f"/api/v1/feed?since={SEED_VERSION}") as events,
    ):
        assert next(events).comment == "heartbeat"
        versions = [_patch_capital(written, f"Capital {n}") for n in range(3)]
        arrived = [_next_event(events) for _ in versions]
    assert [int(e.id) for e in arrived] == versions
    assert [e.data["entity"]["capital"] for e in arrived] == ["Capital 0", "Capital 1", "Capital 2"]


def test_open_streams_are_bounded_per_process(database_url):
    with running_server(database_url, **QUICK, MAX_STREAMS="2") as base:
        with _stream(base) as first, _stream(base) as second:
            next(first), next(second)
            refused = httpx.get(f"{base}/api/v1/feed", headers=STREAM, timeout=10)
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"] == "5"
            assert "(2)" in refused.json()["detail"]
            # JSON pages are not streams: still served.
            assert httpx.get(f"{base}/api/v1/feed?limit=1").status_code == 200
        # Once the server sees the clients gone (a heartbeat later), there is room again.
        deadline = time.monotonic() + PATIENCE
        while _stream_status(base) != 200:
            assert time.monotonic() < deadline, "the closed streams were never released"
            time.sleep(0.2)


def test_a_head_of_the_stream_ends_and_holds_no_place(database_url):
    with running_server(database_url, **QUICK, MAX_STREAMS="1") as base:
        for _ in range(3):
            head = httpx.head(f"{base}/api/v1/feed", headers=STREAM, timeout=PATIENCE)
            assert head.status_code == 200
            assert head.headers["content-type"].startswith("text/event-stream")
            assert head.content == b""
        with _stream(base) as events:  # the one place is free
            assert _next_event(events).id == "1"
        cased = {"Accept": "TEXT/EVENT-STREAM"}
        with httpx.stream("GET", f"{base}/api/v1/feed", headers=cased, timeout=PATIENCE) as r:
            assert r.headers["content-type"].startswith("text/event-stream")


def _stream_status(base: str) -> int:
    with httpx.stream("GET", f"{base}/api/v1/feed", headers=STREAM, timeout=10) as response:
        return response.status_code


def _connections(database_url: str) -> dict[str, int]:
    """The other sessions on the test's database, by state (`idle`, `idle in transaction`,
    `active`)."""
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT state, count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY state"
            )
        ).all()
    engine.dispose()
    return {state: int(count) for state, count in rows}


IDLE_STREAMS = 20  # more than the pool's 15 connections: one each could not be


@pytest.mark.skipif(BACKEND != "postgresql", reason="counts PostgreSQL's server processes")
def test_idle_streams_hold_no_database_connection(database_url):
    with running_server(database_url, **QUICK) as base, ExitStack() as streams:
        for _ in range(IDLE_STREAMS):
            events = streams.enter_context(_stream(base))
            next(e for e in events if e.comment)  # replayed, and now idle
        sessions = _connections(database_url)
        # None in a transaction, none running: the pool's idle ones, the version reader's and
        # the one that LISTENs.
        assert set(sessions) == {"idle"}, sessions
        assert sessions["idle"] < IDLE_STREAMS
        assert httpx.get(f"{base}/api/v1/summits/2", timeout=PATIENCE).status_code == 200


def test_sigterm_ends_open_streams_at_once(database_url):
    """uvicorn waits for open responses before it stops; the streams end as the signal comes,
    so the server stops well inside a grace period it would otherwise wait out."""
    with server_process(database_url, **QUICK) as server:
        ended = threading.Event()

        def follow() -> None:
            with _stream(server.url) as events:
                for _ in events:
                    pass
            ended.set()

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        time.sleep(1)  # the stream is open and idle
        assert not ended.is_set()
        server.process.send_signal(signal.SIGTERM)
        assert ended.wait(PATIENCE), "the stream outlived SIGTERM"
        try:
            server.process.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not stop:\n{server.stderr()}")
