"""A mirror of the summit-data API in a local SQLite file, kept in sync by the change feed.

    python examples/mirror.py http://127.0.0.1:8000 mirror.db            # copy, then catch up
    python examples/mirror.py http://127.0.0.1:8000 mirror.db --follow   # and follow, live

The first run copies `GET /api/v1/export` and keeps the `version` it shows. Every run then
applies `GET /api/v1/feed?since=<that version>` page by page (each item replaces its entity, or
removes it when `entity` is null), and with `--follow` goes on with the same feed as
Server-Sent Events, resuming after the last version applied. A mirror stopped at any point
resumes where it stopped: the version and the entities it applied are committed together.

It needs only `httpx` and the standard library: this is what a service that integrates the
data would write, not part of the API.
"""

import argparse
import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx

RECONNECT_SECONDS = 3  # before opening a dropped stream again, as a browser's EventSource waits

SCHEMA = """
CREATE TABLE IF NOT EXISTS entity (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS mirror (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
"""


def open_mirror(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    connection.executescript(SCHEMA)
    return connection


def version_of(mirror: sqlite3.Connection) -> int | None:
    """The dataset version the mirror holds; None before its first copy."""
    row = mirror.execute("SELECT version FROM mirror WHERE id = 1").fetchone()
    return None if row is None else int(row[0])


def _set_version(mirror: sqlite3.Connection, version: int) -> None:
    mirror.execute(
        "INSERT INTO mirror (id, version) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        (version,),
    )


def bootstrap(client: httpx.Client, mirror: sqlite3.Connection) -> int:
    """Copy the whole dataset, once; the version it shows."""
    export = client.get("/api/v1/export").raise_for_status().json()
    with mirror:  # one transaction: the entities and the version they are at
        mirror.execute("DELETE FROM entity")
        for collection, records in export.items():
            if collection == "version":
                continue
            mirror.executemany(
                "INSERT INTO entity (collection, id, record) VALUES (?, ?, ?)",
                [(collection, r["id"], json.dumps(r, ensure_ascii=False)) for r in records],
            )
        _set_version(mirror, export["version"])
    return int(export["version"])


def apply(mirror: sqlite3.Connection, items: list[dict[str, Any]]) -> None:
    """Apply changes of the feed, oldest first, and move the mirror to the last one's version."""
    if not items:
        return
    with mirror:
        for item in items:
            if item["entity"] is None:
                mirror.execute(
                    "DELETE FROM entity WHERE collection = ? AND id = ?", (item["type"], item["id"])
                )
            else:
                mirror.execute(
                    "INSERT INTO entity (collection, id, record) VALUES (?, ?, ?)"
                    " ON CONFLICT (collection, id) DO UPDATE SET record = excluded.record",
                    (item["type"], item["id"], json.dumps(item["entity"], ensure_ascii=False)),
                )
        _set_version(mirror, items[-1]["version"])


def catch_up(client: httpx.Client, mirror: sqlite3.Connection) -> int:
    """Apply every change since the mirror's version, a page at a time; the version reached."""
    version = version_of(mirror)
    if version is None:
        version = bootstrap(client, mirror)
    while True:
        page = client.get("/api/v1/feed", params={"since": version, "limit": 500})
        feed = page.raise_for_status().json()
        if not feed["items"]:
            return version
        apply(mirror, feed["items"])
        version = feed["last_version"]


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The changes in a Server-Sent Events stream (comments, the heartbeats, skipped)."""
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []


def follow(client: httpx.Client, mirror: sqlite3.Connection, *, until: int | None = None) -> int:
    """Catch up, then apply each change as it is made (until the mirror reaches version
    `until`, if given); a dropped stream is opened again after the last version applied."""
    version = catch_up(client, mirror)
    while until is None or version < until:
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(version)}
        try:
            with client.stream("GET", "/api/v1/feed", headers=headers, timeout=30) as stream:
                stream.raise_for_status()
                for item in _events(stream):
                    apply(mirror, [item])
                    version = item["version"]
                    if until is not None and version >= until:
                        break
        except httpx.TransportError:
            time.sleep(RECONNECT_SECONDS)  # then resume after `version`, as EventSource would
        except httpx.HTTPStatusError as error:
            if error.response.status_code != 503:  # the server holds all the streams it may
                raise
            time.sleep(float(error.response.headers.get("retry-after", RECONNECT_SECONDS)))
    return version


def export_of(mirror: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """What the mirror holds, by collection and id."""
    held: dict[str, dict[str, Any]] = {}
    for collection, entity_id, record in mirror.execute(
        "SELECT collection, id, record FROM entity"
    ):
        held.setdefault(collection, {})[entity_id] = json.loads(record)
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("api", help="the service's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("database", help="the SQLite file to keep the copy in")
    parser.add_argument("--follow", action="store_true", help="follow changes live")
    arguments = parser.parse_args()
    mirror = open_mirror(arguments.database)
    with httpx.Client(base_url=arguments.api, timeout=30) as client:
        version = follow(client, mirror) if arguments.follow else catch_up(client, mirror)
    print(f"mirror: at dataset version {version}")


if __name__ == "__main__":
    main()
