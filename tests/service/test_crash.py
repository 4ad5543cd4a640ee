"""Crash safety: writes from several threads to a real server, the server killed with SIGKILL
halfway, started again on the same database: every acknowledged write is there, with its audit
record, and the database is intact."""

import threading
import time

import httpx
from sqlalchemy import text

from app.data.engine import make_engine
from tests.conftest import API_KEYS, BACKEND, EDITOR_KEY
from tests.server import running_server, server_process

WRITERS = 6
HEADERS = {"Authorization": f"Bearer {EDITOR_KEY}"}


def _person(name: str) -> dict:
    return {
        "name": name,
        "roles": ["tester"],
        "sources": [{"source": "article", "quote": "witnessed the signing", "fields": ["roles"]}],
        "derivations": [{"fields": ["name"], "basis": "inferred", "note": "A crash test's."}],
    }


def _write_until_cut(
    base: str, writer: int, acknowledged: list[str], unexpected: list[str]
) -> None:
    with httpx.Client(headers=HEADERS, timeout=10) as client:
        for number in range(100_000):
            try:
                answer = client.post(
                    f"{base}/api/v1/people", json=_person(f"Crash {writer} {number}")
                )
            except httpx.TransportError:
                return  # the server is gone: this write was never acknowledged
            if answer.status_code != 201:  # asserted by the test: a thread's failure is lost
                unexpected.append(f"{answer.status_code} {answer.text[:200]}")
                return
            acknowledged.append(answer.json()["id"])


def _audited(url: str | None) -> set[str]:
    """The ids of every audit record, page by page along `Link: rel="next"`."""
    ids: set[str] = set()
    while url:
        page = httpx.get(url, headers=HEADERS, timeout=10)
        ids |= {change["entity_id"] for change in page.json()["items"]}
        following = page.links.get("next", {}).get("url")
        url = str(page.url.join(following)) if following else None
    return ids


def test_every_acknowledged_write_survives_kill_9(database_url):
    acknowledged: list[str] = []
    unexpected: list[str] = []
    with server_process(database_url, SUMMIT_API_KEYS=API_KEYS) as server:
        base, process = server.url, server.process
        writers = [
            threading.Thread(target=_write_until_cut, args=(base, n, acknowledged, unexpected))
            for n in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        time.sleep(2)
        process.kill()
        process.wait()
        for writer in writers:
            writer.join()
    assert unexpected == []
    assert len(acknowledged) > 50, "too few writes landed before the kill to test anything"

    engine = make_engine(database_url)
    if BACKEND == "sqlite":
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    engine.dispose()
    with running_server(database_url, SUMMIT_API_KEYS=API_KEYS) as base:
        export = httpx.get(f"{base}/api/v1/export", timeout=30).json()
        audited = _audited(f"{base}/api/v1/changes?collection=people&limit=500")
    people = {person["id"] for person in export["people"]}
    missing = set(acknowledged) - people
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged writes lost"
    assert set(acknowledged) <= audited
