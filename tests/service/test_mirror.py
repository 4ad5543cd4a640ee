"""The worked example of the documentation, run: `examples/mirror.py` copies the export into a
SQLite file of its own, then follows the feed as Server-Sent Events while 200 random creates,
updates and deletes go through the API; its copy then equals the service's export."""

import random
import threading

import httpx

from examples.mirror import catch_up, export_of, follow, open_mirror, version_of
from tests.conftest import API_KEYS, EDITOR_KEY, SEED_VERSION
from tests.server import running_server

WRITES = 200
WRITER = {"Authorization": f"Bearer {EDITOR_KEY}"}


def _person(name: str) -> dict:
    return {
        "name": name,
        "roles": ["tester"],
        "sources": [{"source": "article", "quote": "witnessed the signing", "fields": ["roles"]}],
        "derivations": [{"fields": ["name"], "basis": "inferred", "note": "A mirror test's."}],
    }


def _random_writes(base: str, answers: list[int]) -> None:
    """Creates, updates and deletes of people, and updates of seeded countries, at random."""
    chosen = random.Random(14)
    people: list[str] = []
    with httpx.Client(base_url=base, headers=WRITER, timeout=30) as client:
        for number in range(WRITES):
            roll = chosen.random()
            if not people or roll < 0.4:
                answer = client.post("/api/v1/people", json=_person(f"Mirror {number}"))
                people.append(answer.json()["id"])
            elif roll < 0.6:
                answer = client.delete(
                    f"/api/v1/people/{people.pop(chosen.randrange(len(people)))}"
                )
            elif roll < 0.8:
                person = chosen.choice(people)
                answer = client.patch(f"/api/v1/people/{person}", json={"roles": [f"r{number}"]})
            else:
                country = chosen.choice(["KAZ", "KGZ", "TJK", "TKM", "UZB"])
                answer = client.patch(
                    f"/api/v1/countries/{country}", json={"capital": f"C{number}"}
                )
            answers.append(answer.status_code)


def _by_id(export: dict) -> dict:
    return {
        name: {e["id"]: e for e in records} for name, records in export.items() if name != "version"
    }


def test_a_mirror_follows_200_random_writes_to_an_equal_copy(database_url, tmp_path):
    path = str(tmp_path / "mirror.db")
    with running_server(database_url, SUMMIT_API_KEYS=API_KEYS) as base:
        mirror = open_mirror(path)
        with httpx.Client(base_url=base, timeout=30) as client:
            assert catch_up(client, mirror) == SEED_VERSION  # the copy of the export
            answers: list[int] = []
            writer = threading.Thread(target=_random_writes, args=(base, answers))
            writer.start()
            reached = follow(client, mirror, until=SEED_VERSION + WRITES)  # live, meanwhile
            writer.join()
            served = client.get("/api/v1/export").json()
        assert set(answers) <= {200, 201, 204} and len(answers) == WRITES
        assert reached == served["version"] == SEED_VERSION + WRITES
        assert export_of(mirror) == _by_id(served)
        assert len(export_of(mirror)["people"]) > 2  # the writes left people behind
        mirror.close()

        resumed = open_mirror(path)  # a mirror started again resumes where it stopped
        assert version_of(resumed) == served["version"]
        with httpx.Client(base_url=base, timeout=30) as client:
            assert catch_up(client, resumed) == served["version"]
        assert export_of(resumed) == _by_id(served)
