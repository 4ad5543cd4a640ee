"""Whole-dataset endpoints: timeline, search, export."""

import json

import pytest

from app.config import Settings
from app.data.engine import make_engine
from app.main import create_app
from seed.loader import load, parse
from tests.conftest import SEED_VERSION, app_client, migrate

pytestmark = pytest.mark.anyio


async def test_timeline_in_date_order(client):
    body = (await client.get("/api/v1/timeline")).json()
    events = [(e["date"], e["type"], e["id"]) for e in body["items"]]
    assert events == [
        ("2022-06", "mechanism", "china-central-asia-summit-mechanism"),
        ("2023-05-18", "summits", "first-summit"),
        ("2024", "trade-statistics", "china-central-asia-trade-2024-cny"),
        ("2025", "commitments", "years-of-high-quality-development"),
        ("2025-06-17", "summits", "second-summit"),
        ("2025-06-17", "agreements", "action-plan-for-high-quality-belt-and-road-cooperation"),
        (
            "2025-06-17",
            "agreements",
            "treaty-on-eternal-good-neighborliness-friendship-and-cooperation",
        ),
    ]
    assert body["total"] == 7
    years = body["items"][3]
    assert (years["end_date"], years["url"]) == (
        "2026",
        "/api/v1/commitments/years-of-high-quality-development",
    )
    signing = body["items"][6]
    assert "Dated by the summit" in signing["note"]


async def test_timeline_filtered_by_type(client):
    body = (await client.get("/api/v1/timeline?type=summits")).json()
    assert [e["url"] for e in body["items"]] == ["/api/v1/summits/1", "/api/v1/summits/2"]


async def test_search_finds_across_collections_best_first(client):
    body = (await client.get("/api/v1/search?q=desertification")).json()
    first = body["items"][0]
    assert (first["type"], first["id"]) == (
        "cooperation-centers",
        "desertification-prevention-and-control",
    )
    assert first["url"] == "/api/v1/cooperation-centers/desertification-prevention-and-control"
    assert "<mark>desertification</mark>" in first["snippet"]
    assert body["total"] == len(body["items"]) >= 3


async def test_search_words_all_match_as_prefixes(client):
    body = (await client.get("/api/v1/search?q=green%20min")).json()
    assert ("priority-areas", "green-mining") in [(h["type"], h["id"]) for h in body["items"]]
    body = (await client.get("/api/v1/search?q=astana")).json()
    assert {"summits", "countries"} <= {h["type"] for h in body["items"]}
    assert (await client.get("/api/v1/search?q=zeppelin")).json()["total"] == 0


async def test_search_treats_operators_as_words(client):
    response = await client.get('/api/v1/search?q=(green" ^mining* : -')
    assert response.status_code == 200
    hits = [(hit["type"], hit["id"]) for hit in response.json()["items"]]
    assert hits[0] == ("priority-areas", "green-mining")


async def test_the_export_says_which_version_it_shows(writer):
    first = await writer.get("/api/v1/export")
    assert first.json()["version"] == int(first.headers["x-dataset-version"]) == SEED_VERSION
    await writer.patch("/api/v1/countries/KAZ", json={"capital": "Nur-Sultan"})
    second = (await writer.get("/api/v1/export")).json()
    assert second["version"] == SEED_VERSION + 1
    assert next(c for c in second["countries"] if c["id"] == "KAZ")["capital"] == "Nur-Sultan"


async def test_export_loads_back_into_an_identical_database(client, tmp_path, empty_database_url):
    exported = (await client.get("/api/v1/export")).json()
    assert exported["version"] == SEED_VERSION
    assert len(exported["countries"]) == 6
    assert exported["sources"][0]["text"].startswith("Chinese President Xi Jinping")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")

    url = empty_database_url
    migrate(url)
    engine = make_engine(url)
    report = load(engine, parse(path))
    engine.dispose()
    assert report.changed
    reloaded = create_app(Settings(database_url=url))
    async with app_client(reloaded) as other:
        assert (await other.get("/api/v1/export")).json() == exported
