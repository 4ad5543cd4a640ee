"""Concurrent writes against the real server: every write lands once, and readers never see a
half-written entity."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import API_KEYS, BOT_KEY, EDITOR_KEY
from tests.server import running_server

WRITERS = 6
WRITES_PER_WRITER = 10
PARTIES = ["CHN", "KAZ", "UZB"]


def commitment(writer: int, number: int) -> dict:
    return {
        "id": f"load-{writer}-{number}",
        "title": f"Load test commitment {writer}-{number}",
        "kind": "pledge",
        "description": "Written by the concurrency test.",
        "summit": 2,
        "parties": PARTIES,
        "sources": [
            {
                "source": "article",
                "quote": "China also pledged to provide 3,000 training",
                "fields": ["title", "kind", "summit", "parties"],
            },
            {"source": "iso-3166-1", "fields": ["parties"]},
        ],
    }


def test_concurrent_writes_all_land_and_reads_stay_whole(database_url):
    with running_server(database_url, SUMMIT_API_KEYS=API_KEYS) as base_url:
        start = threading.Barrier(WRITERS + 2)
        stop = threading.Event()
        torn: list[dict] = []
        seen: list[list[int]] = [[], []]  # per reader, how many written entities each read saw

        def write_many(writer: int) -> list[int]:
            key = EDITOR_KEY if writer % 2 else BOT_KEY
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
                start.wait()
                return [
                    client.post("/api/v1/commitments", json=commitment(writer, n)).status_code
                    for n in range(WRITES_PER_WRITER)
                ]

        def read_until_stopped(reader: int) -> int:
            with httpx.Client(base_url=base_url, timeout=30) as client:
                start.wait()
                while not stop.is_set():
                    items = client.get("/api/v1/commitments?limit=500").json()["items"]
                    loaded = [item for item in items if item["id"].startswith("load-")]
                    torn.extend(
                        item
                        for item in loaded
                        if item["parties"] != PARTIES or len(item["sources"]) != 2
                    )
                    seen[reader].append(len(loaded))
            return len(seen[reader])

        with ThreadPoolExecutor(WRITERS + 2) as pool:
            writes = [pool.submit(write_many, w) for w in range(WRITERS)]
            readers = [pool.submit(read_until_stopped, r) for r in range(2)]
            statuses = Counter(s for future in writes for s in future.result())
            stop.set()
            reads = sum(future.result() for future in readers)

        with httpx.Client(base_url=base_url, timeout=30) as client:
            items = client.get("/api/v1/commitments?limit=500").json()["items"]
            changes = client.get(
                "/api/v1/changes?limit=500", headers={"Authorization": f"Bearer {EDITOR_KEY}"}
            ).json()

    total = WRITERS * WRITES_PER_WRITER
    assert statuses == Counter({201: total})
    written = sorted(item["id"] for item in items if item["id"].startswith("load-"))
    assert written == sorted(
        f"load-{w}-{n}" for w in range(WRITERS) for n in range(WRITES_PER_WRITER)
    )
    assert changes["total"] == total
    assert len({c["dataset_version"] for c in changes["items"]}) == total  # one version each
    # The reads overlapped the writes: they saw written entities while others were still to
    # come, so that no torn entity among them means something; and never fewer than before.
    assert any(0 < count < total for counts in seen for count in counts), seen
    assert all(counts == sorted(counts) for counts in seen)
    assert torn == []
    assert reads > 0
