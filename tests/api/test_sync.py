"""Keeping a copy in sync: the change feed, `changed_since`, an entity's history and `as_of`."""

import copy

import pytest

from tests.conftest import EDITOR_KEY, SEED_VERSION, assert_problem

pytestmark = pytest.mark.anyio

NEW_CENTER = {
    "id": "water-saving",
    "name": "China–Central Asia Water-Saving Cooperation Center",
    "focus": "water saving",
    "summit": 2,
    "sources": [
        {
            "source": "article",
            "quote": "three cooperation centers",
            "fields": ["name", "focus", "summit"],
        }
    ],
}


async def _feed(client, since: int = 0, limit: int = 1000) -> dict:
    response = await client.get(f"/api/v1/feed?since={since}&limit={limit}")
    assert response.status_code == 200, response.text
    return response.json()


async def _some_changes(writer) -> None:
    """A create, two updates and a delete through the API."""
    created = await writer.post("/api/v1/cooperation-centers", json=NEW_CENTER)
    assert created.status_code == 201, created.text
    await writer.patch("/api/v1/countries/KAZ", json={"capital": "Nur-Sultan"})
    await writer.patch("/api/v1/countries/KAZ", json={"capital": "Astana"})
    await writer.patch("/api/v1/summits/2", json={"notes": "Held in Astana."})
    deleted = await writer.delete("/api/v1/principles/mutual-respect-and-equality")
    assert deleted.status_code == 204


# A read without the writer's key, as the public makes it (with a key, nothing is cached).
PUBLIC = {"Authorization": ""}


def _by_id(export: dict) -> dict:
    return {
        name: {e["id"]: e for e in records} for name, records in export.items() if name != "version"
    }


async def test_each_record_the_seed_loads_is_a_version_of_its_own(client):
    feed = await _feed(client)
    export = (await client.get("/api/v1/export")).json()
    assert [item["version"] for item in feed["items"]] == list(range(1, SEED_VERSION + 1))
    assert feed["last_version"] == export["version"] == SEED_VERSION
    assert {item["op"] for item in feed["items"]} == {"create"}
    seeded = {(item["type"], item["id"]): item["entity"] for item in feed["items"]}
    assert seeded == {
        (name, e["id"]): e for name, es in export.items() if name != "version" for e in es
    }
    summit = next(i for i in feed["items"] if i["type"] == "summits" and i["id"] == "second-summit")
    assert summit["url"] == "/api/v1/summits/2"
    assert summit["at"].endswith("Z")


async def test_the_feed_pages_oldest_first_and_links_where_to_resume(client):
    seen, since = [], 0
    while True:
        response = await client.get(f"/api/v1/feed?since={since}&limit=7")
        page = response.json()
        assert response.headers["link"] == (
            f'</api/v1/feed?since={page["last_version"]}&limit=7>; rel="next"'
        )
        if not page["items"]:
            assert page["last_version"] == since
            break
        assert len(page["items"]) <= 7
        seen += [item["version"] for item in page["items"]]
        since = page["last_version"]
    assert seen == list(range(1, SEED_VERSION + 1))


async def test_a_delete_is_in_the_feed_without_who_made_it(writer):
    await writer.delete("/api/v1/principles/mutual-respect-and-equality")
    response = await writer.get(f"/api/v1/feed?since={SEED_VERSION}", headers=PUBLIC)
    (item,) = response.json()["items"]
    assert item == {
        "version": SEED_VERSION + 1,
        "at": item["at"],
        "op": "delete",
        "type": "principles",
        "id": "mutual-respect-and-equality",
        "url": "/api/v1/principles/mutual-respect-and-equality",
        "entity": None,
    }
    assert "editor" not in response.text and EDITOR_KEY not in response.text


async def test_the_feed_applied_to_an_export_gives_the_current_export(writer):
    before = (await writer.get("/api/v1/export")).json()
    await _some_changes(writer)
    mirror = copy.deepcopy(_by_id(before))
    feed = await _feed(writer, since=before["version"])
    assert [i["op"] for i in feed["items"]] == ["create", "update", "update", "update", "delete"]
    for item in feed["items"]:
        if item["entity"] is None:
            del mirror[item["type"]][item["id"]]
        else:
            mirror[item["type"]][item["id"]] = item["entity"]
    after = (await writer.get("/api/v1/export")).json()
    assert after["version"] == feed["last_version"] == before["version"] + 5
    assert mirror == _by_id(after)
    assert mirror != _by_id(before)


async def test_the_feed_refuses_a_version_the_data_has_not_reached(client):
    problem = assert_problem(await client.get(f"/api/v1/feed?since={SEED_VERSION + 1}"), 400)
    assert problem["errors"][0]["parameter"] == "since"
    assert str(SEED_VERSION) in problem["detail"]
    assert_problem(await client.get("/api/v1/feed?since=-1"), 400)
    assert_problem(await client.get("/api/v1/feed?limit=1001"), 400)


async def test_changed_since_lists_only_what_changed_after_that_version(writer):
    await _some_changes(writer)
    changed = await writer.get(f"/api/v1/countries?changed_since={SEED_VERSION}&fields=id")
    assert changed.json()["items"] == [{"id": "KAZ"}]
    assert changed.json()["total"] == 1
    centers = await writer.get(f"/api/v1/cooperation-centers?changed_since={SEED_VERSION}")
    assert [c["id"] for c in centers.json()["items"]] == ["water-saving"]
    # KAZ changed at SEED_VERSION + 2 and + 3: after + 2, it still changed.
    assert (await writer.get(f"/api/v1/countries?changed_since={SEED_VERSION + 2}")).json()[
        "total"
    ] == 1
    assert (await writer.get(f"/api/v1/countries?changed_since={SEED_VERSION + 3}")).json()[
        "total"
    ] == 0
    assert (await writer.get("/api/v1/countries?changed_since=0")).json()["total"] == 6
    csv = await writer.get(f"/api/v1/countries?changed_since={SEED_VERSION}&format=csv")
    assert csv.text.count("\r\n") == 2  # the header and KAZ
    assert_problem(await writer.get("/api/v1/countries?changed_since=x"), 400)


async def test_an_entity_history_is_newest_first_and_outlives_a_delete(writer):
    await _some_changes(writer)
    history = (await writer.get("/api/v1/countries/KAZ/history")).json()
    assert [(i["version"], i["op"]) for i in history["items"]] == [
        (SEED_VERSION + 3, "update"),
        (SEED_VERSION + 2, "update"),
        (next(i["version"] for i in (await _feed(writer))["items"] if i["id"] == "KAZ"), "create"),
    ]
    assert [i["entity"]["capital"] for i in history["items"]] == ["Astana", "Nur-Sultan", "Astana"]
    assert history["total"] == 3
    gone = (await writer.get("/api/v1/principles/mutual-respect-and-equality/history")).json()
    assert [(i["op"], i["entity"] is None) for i in gone["items"]] == [
        ("delete", True),
        ("create", False),
    ]
    assert_problem(await writer.get("/api/v1/principles/mutual-respect-and-equality"), 404)
    by_number = (await writer.get("/api/v1/summits/2/history")).json()
    assert [i["op"] for i in by_number["items"]] == ["update", "create"]
    assert by_number["items"][0]["entity"]["notes"] == "Held in Astana."
    assert_problem(await writer.get("/api/v1/countries/FRA/history"), 404)


async def test_as_of_shows_an_entity_as_it_stood_and_never_changes(writer):
    await _some_changes(writer)
    url = f"/api/v1/countries/KAZ?as_of={SEED_VERSION + 2}"
    first = await writer.get(url, headers=PUBLIC)
    assert first.status_code == 200
    assert first.json()["capital"] == "Nur-Sultan"
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert first.headers["etag"].startswith(f'"as-of-{SEED_VERSION + 2}-')
    assert (await writer.get("/api/v1/countries/KAZ")).json()["capital"] == "Astana"
    await writer.patch("/api/v1/countries/KAZ", json={"capital": "Akmola"})
    again = await writer.get(url, headers={**PUBLIC, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]
    assert (await writer.get(url)).content == first.content
    now = await writer.get("/api/v1/countries/KAZ", headers=PUBLIC)
    assert now.headers["cache-control"] == "public, max-age=60"


async def test_as_of_answers_what_existed_then_and_refuses_the_future(writer):
    await _some_changes(writer)
    seeded = f"?as_of={SEED_VERSION}"
    assert_problem(await writer.get(f"/api/v1/cooperation-centers/water-saving{seeded}"), 404)
    created = await writer.get(f"/api/v1/cooperation-centers/water-saving?as_of={SEED_VERSION + 1}")
    assert created.json()["focus"] == "water saving"
    deleted = await writer.get(f"/api/v1/principles/mutual-respect-and-equality{seeded}")
    assert deleted.json()["name"]
    summit = (await writer.get(f"/api/v1/summits/2{seeded}")).json()
    assert summit["notes"] is None and "agreements" not in summit  # no embeds as of a version
    assert summit["sources"]
    article = (await writer.get(f"/api/v1/sources/article{seeded}")).json()
    assert article["text_length"] == len(article["text"]) > 1000
    problem = assert_problem(
        await writer.get(f"/api/v1/countries/KAZ?as_of={SEED_VERSION + 6}"), 400
    )
    assert problem["errors"][0]["parameter"] == "as_of"
    assert_problem(await writer.get("/api/v1/countries/KAZ?as_of=0"), 404)


async def test_the_export_as_of_a_version_is_the_export_of_then(writer):
    before = (await writer.get("/api/v1/export")).json()
    await _some_changes(writer)
    response = await writer.get(f"/api/v1/export?as_of={before['version']}", headers=PUBLIC)
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.json()["version"] == before["version"]
    assert _by_id(response.json()) == _by_id(before)
    now = (await writer.get("/api/v1/export")).json()
    assert _by_id((await writer.get(f"/api/v1/export?as_of={now['version']}")).json()) == _by_id(
        now
    )
    assert_problem(await writer.get(f"/api/v1/export?as_of={now['version'] + 1}"), 400)


async def test_a_new_text_around_a_quote_is_a_version_of_each_entity_quoting_it(writer):
    """A quote's prefix and suffix are cut from its source's text: a change of the text next to
    a quote changes the export records of the entities citing it, and the feed says so."""
    before = (await writer.get("/api/v1/export")).json()
    text = next(s for s in before["sources"] if s["id"] == "article")["text"]
    quotes = [
        (name, record["id"], c)
        for name, records in before.items()
        if name != "version"
        for record in records
        for c in record.get("sources", [])
        if c["source"] == "article"
    ]
    quoted = {at for _, _, c in quotes for at in range(c["start"], c["end"])}
    # A character no quote holds, in the 32 before a quote: that quote's prefix.
    at, name, entity_id = next(
        (p, name, entity_id)
        for name, entity_id, c in quotes
        for p in range(c["start"] - 1, max(c["start"] - 32, -1), -1)
        if p not in quoted
    )
    retexted = text[:at] + ("_" if text[at] != "_" else "-") + text[at + 1 :]
    patched = await writer.patch("/api/v1/sources/article", json={"text": retexted})
    assert patched.status_code == 200, patched.text
    feed = await _feed(writer, since=before["version"])
    changed = [(i["type"], i["id"]) for i in feed["items"]]
    assert changed[0] == ("sources", "article")
    assert (name, entity_id) in changed[1:]
    assert len(changed) == len(set(changed))
    mirror = _by_id(before)
    for item in feed["items"]:
        mirror[item["type"]][item["id"]] = item["entity"]
    after = (await writer.get("/api/v1/export")).json()
    assert mirror == _by_id(after)
    assert mirror != _by_id(before)
    as_of = (await writer.get(f"/api/v1/export?as_of={after['version']}")).json()
    assert _by_id(as_of) == _by_id(after)
    since = await writer.get(f"/api/v1/{name}?changed_since={patched.headers['x-dataset-version']}")
    assert entity_id not in [e["id"] for e in since.json().get("items", [])]
    since = await writer.get(f"/api/v1/{name}?changed_since={before['version']}")
    assert entity_id in [e["id"] for e in since.json().get("items", [])]


async def test_as_of_and_history_take_every_key_the_detail_takes(writer):
    await writer.patch("/api/v1/countries/KAZ", json={"capital": "Nur-Sultan"})
    for key in ("KAZ", "kaz", "KZ", "kz"):
        past = await writer.get(f"/api/v1/countries/{key}?as_of={SEED_VERSION}")
        assert past.json()["capital"] == "Astana", key
        history = await writer.get(f"/api/v1/countries/{key}/history")
        assert history.json()["total"] == 2, key
    by_id = await writer.get(f"/api/v1/summits/second-summit?as_of={SEED_VERSION}")
    assert by_id.json()["number"] == 2
    assert (await writer.get("/api/v1/summits/second-summit/history")).json()["total"] == 1


async def test_as_of_refuses_the_fields_only_a_current_detail_embeds(client):
    problem = assert_problem(
        await client.get(f"/api/v1/summits/2?as_of={SEED_VERSION}&fields=number,agreements"), 400
    )
    assert problem["errors"][0]["parameter"] == "fields"
    fine = await client.get(f"/api/v1/summits/2?as_of={SEED_VERSION}&fields=number")
    assert fine.json() == {"number": 2}
    assert (await client.get("/api/v1/summits/2?fields=agreements")).status_code == 200


@pytest.mark.parametrize(
    "accept",
    [
        "*/*",
        "application/json",
        "text/event-stream;q=0",
        "application/json, text/event-stream;q=0.1",
        "text/event-streamX",
        "application/x-text/event-stream",
    ],
)
async def test_the_feed_is_json_unless_the_event_stream_is_preferred(client, accept):
    response = await client.get("/api/v1/feed?limit=1", headers={"Accept": accept})
    assert response.headers["content-type"] == "application/json"
    assert response.json()["last_version"] == 1
