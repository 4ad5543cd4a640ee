"""The feed's order under concurrent writers: a reader that resumes from the last version it
saw never skips a change, because no version is visible before every one below it is."""

import threading

import httpx

from tests.conftest import API_KEYS, EDITOR_KEY, SEED_VERSION
from tests.server import running_server

WRITERS = 6
WRITES_EACH = 25


def _write(base: str, writer: int, versions: list[int], failures: list[str]) -> None:
    headers = {"Authorization": f"Bearer {EDITOR_KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for number in range(WRITES_EACH):
            capital = f"Capital {writer}-{number}"
            answer = client.patch(
                f"/api/v1/countries/{'KAZ' if writer % 2 else 'UZB'}", json={"capital": capital}
            )
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
            else:
                versions.append(int(answer.headers["x-dataset-version"]))


def test_a_polling_reader_sees_every_version_once_under_concurrent_writers(database_url):
    with running_server(database_url, SUMMIT_API_KEYS=API_KEYS) as base:
        acknowledged: list[int] = []
        failures: list[str] = []
        writers = [
            threading.Thread(target=_write, args=(base, n, acknowledged, failures))
            for n in range(WRITERS)
        ]
        for thread in writers:
            thread.start()
        seen: list[int] = []
        since = SEED_VERSION
        with httpx.Client(base_url=base, timeout=30) as reader:
            while any(t.is_alive() for t in writers) or since < SEED_VERSION + len(acknowledged):
                feed = reader.get("/api/v1/feed", params={"since": since, "limit": 7}).json()
                seen += [item["version"] for item in feed["items"]]
                since = feed["last_version"]
        for thread in writers:
            thread.join()
    assert failures == []
    total = WRITERS * WRITES_EACH
    assert sorted(acknowledged) == list(range(SEED_VERSION + 1, SEED_VERSION + total + 1))
    assert seen == list(range(SEED_VERSION + 1, SEED_VERSION + total + 1))  # each once, in order
