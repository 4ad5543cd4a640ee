"""Writes: keys, every method with its status codes, validation, atomicity, the audit trail."""

import json

import pytest

from app.config import Settings
from app.data.registry import COLLECTIONS
from app.main import create_app
from seed.loader import load, parse
from tests.conftest import (
    BOT_KEY,
    EDITOR_KEY,
    NAME_LANGUAGES,
    SEED_VERSION,
    app_client,
    assert_problem,
    migrate,
    pycountry_names,
)

pytestmark = pytest.mark.anyio

COMMITMENT = {
    "title": "Cooperation centers on three themes",
    "kind": "pledge",
    "description": "Xi announced three cooperation centers.",
    "summit": 2,
    "parties": ["CHN"],
    "sources": [
        {
            "source": "article",
            "quote": "Xi announced the establishment of three",
            "fields": ["title", "kind", "summit", "parties"],
        }
    ],
}
SUMMIT_FIELDS = ["number", "name", "city", "host_country", "start_date", "end_date", "participants"]
MADE_UP = {
    "fields": ["year", "reporter", "flow", "value", "partners"],
    "basis": "inferred",
    "note": "Made up for a test.",
}


def without(record: dict, *names: str) -> dict:
    return {k: v for k, v in record.items() if k not in names}


# --- keys ------------------------------------------------------------------------------------


async def test_no_key_is_401_whatever_the_body(writer):
    for body, content_type in [
        (b"{not json", "application/json"),
        (b"x" * 2_000_000, "text/plain"),
    ]:
        response = await writer.post(
            "/api/v1/commitments",
            content=body,
            headers={"Authorization": "", "Content-Type": content_type},
        )
        problem = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer realm="summit-data"'
        assert "API key is required" in problem["detail"]


async def test_wrong_key_is_401_and_never_echoed(writer):
    response = await writer.delete(
        "/api/v1/commitments/training-opportunities",
        headers={"Authorization": "Bearer guess-0123456789abcdef"},
    )
    assert_problem(response, 401)
    assert "invalid_token" in response.headers["www-authenticate"]
    assert "guess" not in response.text


async def test_without_configured_keys_every_write_is_401(client):
    response = await client.post(
        "/api/v1/commitments", json=COMMITMENT, headers={"Authorization": f"Bearer {EDITOR_KEY}"}
    )
    problem = assert_problem(response, 401)
    assert "Writes are disabled" in problem["detail"]


def test_keys_that_are_too_short_are_refused_without_showing_them(database_url):
    with pytest.raises(ValueError, match="entry 2 must be name:secret") as refused:
        create_app(
            Settings(database_url=database_url, summit_api_keys="a:" + "x" * 16 + ",b:short")
        )
    assert "short" not in str(refused.value)


# --- create ----------------------------------------------------------------------------------


async def test_post_creates_with_derived_id_location_and_offsets(writer):
    response = await writer.post("/api/v1/commitments", json=COMMITMENT)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"] == "cooperation-centers-on-three-themes"
    assert response.headers["location"] == f"/api/v1/commitments/{created['id']}"
    citation = created["sources"][0]
    article = (await writer.get("/api/v1/sources/article")).json()["text"]
    assert article[citation["start"] : citation["end"]] == citation["quote"]
    fetched = await writer.get(response.headers["location"], headers={"Authorization": ""})
    assert fetched.json() == created


TRADE = {
    "year": 2025,
    "reporter": "CHN",
    "partners": ["UZB", "KAZ"],
    "flow": "export",
    "value": 1,
    "currency": "USD",
    "sources": [{"source": "iso-4217", "fields": ["currency"]}],
    "derivations": [MADE_UP],
}


async def test_a_record_without_a_title_takes_its_natural_key_as_id(writer):
    created = await writer.post("/api/v1/trade-statistics", json=TRADE)
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "chn-kaz-uzb-export-2025-usd"
    assert created.headers["location"] == "/api/v1/trade-statistics/chn-kaz-uzb-export-2025-usd"
    # The same figure again, its partners in another order: the same id, so a conflict.
    again = await writer.post(
        "/api/v1/trade-statistics", json={**TRADE, "partners": ["KAZ", "UZB"]}
    )
    assert "'chn-kaz-uzb-export-2025-usd' already exists" in assert_problem(again, 409)["detail"]
    imports = await writer.post("/api/v1/trade-statistics", json={**TRADE, "flow": "import"})
    assert imports.json()["id"] == "chn-kaz-uzb-import-2025-usd"
    # A figure the seed file holds under an id of its own is the same figure too.
    seeded = (await writer.get("/api/v1/trade-statistics/china-central-asia-trade-2024-cny")).json()
    again_seeded = await writer.post(
        "/api/v1/trade-statistics", json=without(seeded, "id", "prefix", "suffix")
    )
    assert assert_problem(again_seeded, 409)["detail"] == (
        "trade statistic 'china-central-asia-trade-2024-cny' has the same reporter, partners,"
        " flow, year, currency already"
    )
    unnamed = await writer.post("/api/v1/trade-statistics", json=without(TRADE, "reporter"))
    assert [e["pointer"] for e in assert_problem(unnamed, 422)["errors"]] == ["/reporter"]


async def test_duplicate_id_is_409(writer):
    response = await writer.post(
        "/api/v1/commitments", json={**COMMITMENT, "id": "training-opportunities"}
    )
    assert "already exists" in assert_problem(response, 409)["detail"]


async def test_a_new_summit_and_its_number_lookup(writer):
    summit = {
        "id": "third-summit",
        "number": 3,
        "name": "Third China–Central Asia Summit",
        "city": "Beijing",
        "host_country": "cn",
        "start_date": "2027-05-01",
        "end_date": "2027-05-02",
        "participants": ["CHN", "KAZ"],
        "sources": [
            {"source": "article", "quote": "held every two years in China", "fields": SUMMIT_FIELDS}
        ],
    }
    response = await writer.post("/api/v1/summits", json=summit)
    assert response.status_code == 422  # host_country must be alpha-3 in a body
    response = await writer.post("/api/v1/summits", json={**summit, "host_country": "CHN"})
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/api/v1/summits/3"
    assert (await writer.get("/api/v1/summits/3")).json()["participants"] == ["CHN", "KAZ"]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/v1/summits", {"participants": ["CHN", "XXX"]}, "/participants"),
        ("/api/v1/summits", {"end_date": "2020-01-01"}, "/"),
        ("/api/v1/trade-statistics", {"value": -5}, "/value"),
        ("/api/v1/trade-statistics", {"currency": "ABC"}, "/currency"),
        ("/api/v1/trade-statistics", {"currency": "usd"}, "/currency"),
        # A boolean is not a percentage (it was once taken as 0.0).
        ("/api/v1/trade-statistics", {"change_percent": False}, "/change_percent"),
        ("/api/v1/commitments", {"id": "Not a slug!"}, "/id"),
        (
            "/api/v1/commitments",
            {"sources": [{**COMMITMENT["sources"][0], "quote": "invented"}]},
            "/sources/0",
        ),
        (
            "/api/v1/commitments",
            {"sources": [{**COMMITMENT["sources"][0], "quote": "Kazakhstan"}]},
            "/sources/0",
        ),
        ("/api/v1/commitments", {"summit": 9}, "/summit"),
        ("/api/v1/commitments", {"colour": "red"}, "/colour"),
    ],
)
async def test_invalid_bodies_are_422_naming_the_field(writer, path, body, pointer):
    base = {
        "/api/v1/summits": {
            "id": "third-summit",
            "number": 3,
            "name": "Third",
            "city": "Beijing",
            "host_country": "CHN",
            "start_date": "2027-05-01",
            "end_date": "2027-05-02",
            "participants": ["CHN"],
            "sources": [
                {
                    "source": "article",
                    "quote": "held every two years in China",
                    "fields": SUMMIT_FIELDS,
                }
            ],
        },
        "/api/v1/trade-statistics": {
            "id": "trade-2025",
            "year": 2025,
            "reporter": "CHN",
            "partners": ["KAZ"],
            "flow": "total",
            "value": 1,
            "currency": "USD",
            "sources": [{"source": "iso-4217", "fields": ["currency"]}],
            "derivations": [MADE_UP],
        },
        "/api/v1/commitments": COMMITMENT,
    }[path]
    before = (await writer.get("/api/v1/export")).json()
    response = await writer.post(path, json={**base, **body})
    problem = assert_problem(response, 422)
    assert any(e["pointer"].startswith(pointer) for e in problem["errors"]), problem
    assert (await writer.get("/api/v1/export")).json() == before  # nothing written


# Found by schemathesis: each of these once answered 500.
@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/api/v1/commitments", {**COMMITMENT, "quantity": 10**20}, "/quantity"),
        ("/api/v1/commitments", {**COMMITMENT, "summit": 10**20}, "/summit"),
        (
            "/api/v1/countries",
            {
                "iso2": "FR",
                "iso_numeric": "250",
                "name": "France",
                "capital": "Paris",
                "region": "east-asia",
                "sources": [{"source": "iso-3166-1", "fields": ["iso2", "iso_numeric"]}],
            },
            "/",
        ),
    ],
)
async def test_what_once_crashed_is_now_422(writer, path, body, pointer):
    problem = assert_problem(await writer.post(path, json=body), 422)
    assert problem["errors"][0]["pointer"].startswith(pointer)


async def test_json_types_are_not_coerced(writer):
    path = "/api/v1/trade-statistics/china-central-asia-trade-2024-usd"
    for patch, pointer in [({"record_high": 0}, "/record_high"), ({"year": "2024"}, "/year")]:
        problem = assert_problem(await writer.patch(path, json=patch), 422)
        assert problem["errors"][0]["pointer"] == pointer


async def test_wrong_content_type_is_415_and_big_body_is_413(writer):
    response = await writer.post(
        "/api/v1/commitments",
        content=json.dumps(COMMITMENT),
        headers={"Content-Type": "text/plain"},
    )
    assert_problem(response, 415)
    big = {**COMMITMENT, "description": "x" * (1024 * 1024)}
    assert_problem(await writer.post("/api/v1/commitments", json=big), 413)


async def test_a_write_may_not_read_server_files(writer):
    source = {"id": "leak", "title": "x", "type": "reference", "text_file": "/etc/passwd"}
    problem = assert_problem(await writer.post("/api/v1/sources", json=source), 422)
    assert problem["errors"][0]["pointer"] == "/text_file"


# --- replace, patch, delete ------------------------------------------------------------------


async def test_put_replaces_and_patch_merges(writer):
    path = "/api/v1/commitments/training-opportunities"
    current = (await writer.get(path)).json()
    replaced = without(current, "id") | {"quantity": 3500}
    response = await writer.put(path, json=replaced)
    assert response.status_code == 200, response.text
    assert response.json()["quantity"] == 3500

    patched = await writer.patch(
        path,
        content=json.dumps({"quantity": None, "title": "Training opportunities"}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["quantity"], patched.json()["title"]) == (None, "Training opportunities")
    assert patched.json()["parties"] == ["CHN"]  # untouched fields stay


async def test_patch_that_breaks_the_model_is_422_and_changes_nothing(writer):
    path = "/api/v1/summits/2"
    before = (await writer.get(path)).json()
    response = await writer.patch(path, json={"end_date": "2025-06-01"})
    assert_problem(response, 422)
    assert (await writer.get(path)).json() == before
    response = await writer.patch(path, json={"id": "renamed"})
    assert assert_problem(response, 422)["errors"][0]["pointer"] == "/id"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_unknown_id_is_404(writer, method):
    body = None if method == "DELETE" else json.dumps(COMMITMENT)
    response = await writer.request(
        method,
        "/api/v1/commitments/no-such-thing",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 404)


async def test_delete_of_something_referred_to_is_409_naming_the_referrers(writer):
    problem = assert_problem(await writer.delete("/api/v1/countries/kz"), 409)
    assert "summits 'second-summit' (host_country)" in problem["detail"]
    assert (
        "agreements 'treaty-on-eternal-good-neighborliness-friendship-and-cooperation' "
        "(signatories)" in problem["detail"]
    )
    problem = assert_problem(await writer.delete("/api/v1/sources/iso-4217"), 409)
    assert "trade-statistics 'china-central-asia-trade-2024-usd' (cites it)" in problem["detail"]
    assert (await writer.get("/api/v1/countries/KAZ")).status_code == 200


async def test_delete_removes_the_entity_and_its_search_entry(writer):
    found_before = (await writer.get("/api/v1/search?q=desertification")).json()["total"]
    response = await writer.delete(
        "/api/v1/cooperation-centers/desertification-prevention-and-control"
    )
    assert (response.status_code, response.content) == (204, b"")
    assert (
        await writer.get("/api/v1/cooperation-centers/desertification-prevention-and-control")
    ).status_code == 404
    hits = (await writer.get("/api/v1/search?q=desertification")).json()
    assert hits["total"] == found_before - 1
    assert "desertification-prevention-and-control" not in [h["id"] for h in hits["items"]]


async def test_changing_a_source_text_that_citations_rely_on_is_409(writer):
    response = await writer.patch("/api/v1/sources/article", json={"text": "Something else."})
    assert "would break the citations" in assert_problem(response, 409)["detail"]


# --- version, audit, round trip --------------------------------------------------------------


async def test_each_write_moves_the_version_and_the_etag(writer):
    before = await writer.get("/api/v1/countries/CHN", headers={"Authorization": ""})
    await writer.patch("/api/v1/countries/CHN", json={"capital": "Beijing (Peking)"})
    after = await writer.get(
        "/api/v1/countries/CHN",
        headers={"Authorization": "", "If-None-Match": before.headers["etag"]},
    )
    assert after.status_code == 200
    assert after.json()["capital"] == "Beijing (Peking)"
    assert int(after.headers["x-dataset-version"]) == int(before.headers["x-dataset-version"]) + 1


async def test_the_audit_trail_records_who_what_and_before_after(writer):
    await writer.post("/api/v1/commitments", json=COMMITMENT)
    await writer.patch(
        "/api/v1/commitments/cooperation-centers-on-three-themes",
        json={"kind": "announcement"},
        headers={"Authorization": f"Bearer {BOT_KEY}"},
    )
    assert_problem(await writer.get("/api/v1/changes", headers={"Authorization": ""}), 401)
    response = await writer.get("/api/v1/changes")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["total"] == 2
    patch, post = body["items"]
    assert (patch["method"], patch["key_name"], post["method"], post["key_name"]) == (
        "PATCH",
        "bot",
        "POST",
        "editor",
    )
    assert post["before"] is None and post["after"]["kind"] == "pledge"
    assert (patch["before"]["kind"], patch["after"]["kind"]) == ("pledge", "announcement")
    assert patch["dataset_version"] == post["dataset_version"] + 1
    assert EDITOR_KEY not in response.text and BOT_KEY not in response.text


async def test_export_after_writes_loads_into_an_identical_database(
    writer, tmp_path, empty_database_url
):
    await writer.post("/api/v1/commitments", json=COMMITMENT)
    await writer.patch("/api/v1/summits/2", json={"notes": None})
    await writer.delete("/api/v1/priority-areas/green-mining")
    exported = (await writer.get("/api/v1/export")).json()
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported, ensure_ascii=False), encoding="utf-8")
    url = empty_database_url
    migrate(url)
    from app.data.engine import make_engine

    engine = make_engine(url)
    load(engine, parse(path))
    engine.dispose()
    async with app_client(create_app(Settings(database_url=url))) as fresh:
        reloaded = (await fresh.get("/api/v1/export")).json()
    # The same records; the version is each database's own: the seed's records and 3 writes,
    # then one for each record loaded.
    records = sum(len(exported[c.name]) for c in COLLECTIONS)
    assert (exported.pop("version"), reloaded.pop("version")) == (SEED_VERSION + 3, records)
    assert reloaded == exported


# --- found by a tester attacking the writes ----------------------------------------------------


async def test_giving_a_reference_source_text_is_409_for_its_quoteless_citations(writer):
    response = await writer.patch("/api/v1/sources/iso-3166-1", json={"text": "ISO 3166 codes"})
    assert "would break the citations of countries" in assert_problem(response, 409)["detail"]


@pytest.mark.parametrize(
    ("path", "patch", "pointer"),
    [
        ("/api/v1/commitments/training-opportunities", {"start": "2026", "end": "2025"}, "/end"),
        ("/api/v1/commitments/training-opportunities", {"start": "2025-13-45"}, "/start"),
        (
            "/api/v1/mechanism/china-central-asia-summit-mechanism",
            {"established": "2022-13"},
            "/established",
        ),
        ("/api/v1/sources/iso-3166-1", {"published": "2020-02-31"}, "/published"),
        ("/api/v1/countries/KAZ", {"iso2": "CN"}, "/iso2"),
        ("/api/v1/summits/2", {"end_date": "2025-06-01"}, "/end_date"),
    ],
)
async def test_impossible_dates_and_codes_are_422_on_their_field(writer, path, patch, pointer):
    problem = assert_problem(await writer.patch(path, json=patch), 422)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]


async def test_conflicts_name_what_conflicts_never_the_schema(writer):
    problem = assert_problem(await writer.patch("/api/v1/summits/2", json={"number": 5}), 409)
    assert problem["detail"].startswith("number cannot change: still referred to by agreements")
    problem = assert_problem(await writer.patch("/api/v1/summits/2", json={"number": 1}), 409)
    assert problem["detail"] == "summit 'first-summit' already has number 1"
    assert "constraint" not in problem["detail"].lower()


async def test_there_is_one_mechanism(writer):
    current = (await writer.get("/api/v1/mechanism")).json()
    response = await writer.post("/api/v1/mechanism", json={**current, "id": "another"})
    assert "there is one mechanism already" in assert_problem(response, 409)["detail"]


async def test_unreadable_bodies_are_422(writer):
    for body in (b'{"title": "\xff\xfe"}', b"[" * 5000 + b"]" * 5000, b"{not json"):
        response = await writer.post(
            "/api/v1/commitments", content=body, headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(response, 422)
        assert problem["title"] == "Invalid request body"


async def test_empty_id_is_invalid_and_derived_ids_split_on_dashes(writer):
    problem = assert_problem(
        await writer.post("/api/v1/commitments", json={**COMMITMENT, "id": ""}), 422
    )
    assert problem["errors"][0]["pointer"] == "/id"
    created = await writer.post(
        "/api/v1/commitments", json={**COMMITMENT, "title": "China–Central Asia pledge"}
    )
    assert created.json()["id"] == "china-central-asia-pledge"


async def test_write_answers_carry_the_version_they_made(writer):
    before = int((await writer.get("/api/v1/countries")).headers["x-dataset-version"])
    response = await writer.patch("/api/v1/countries/CHN", json={"capital": "Beijing"})
    assert int(response.headers["x-dataset-version"]) == before + 1


async def test_audit_trail_as_csv_keeps_records_as_json(writer):
    await writer.patch("/api/v1/countries/CHN", json={"capital": "Beijing"})
    text = (await writer.get("/api/v1/changes?format=csv&fields=before")).text
    assert '""capital"": ""Beijing""' in text


# --- a country's names -----------------------------------------------------------------------

MONGOLIA = {
    "id": "MNG",
    "iso2": "MN",
    "iso_numeric": "496",
    "name": "Mongolia",
    "capital": "Ulaanbaatar",
    "region": "east-asia",
    "sources": [
        {"source": "iso-3166-1", "fields": ["id", "iso2", "iso_numeric", "name"]},
        {"source": "iso-3166-1-translations", "fields": ["names"]},
    ],
    "derivations": [{"fields": ["capital", "region"], "basis": "inferred", "note": "For a test."}],
}


@pytest.mark.parametrize(
    ("names", "pointer", "detail"),
    [
        (
            {"ru": "Казахстан", "fr": "Kazakhstan"},
            "/names",
            "'fr' is not a language names are given in; those are zh, ru, kk, ky, tg, tk, uz",
        ),
        ({"kk-Latn": "Qazaqstan"}, "/names", "'kk-Latn' is not a language names are given in"),
        ({"ru": ""}, "/names/ru", "at least 1 character"),
        ({"ru": " "}, "/names/ru", "a name cannot be blank"),
        ({"ru": 5}, "/names/ru", "valid string"),
        (["Казахстан"], "/names", "valid dictionary"),
    ],
)
async def test_names_in_another_language_or_blank_are_422_on_the_field(
    writer, names, pointer, detail
):
    before = (await writer.get("/api/v1/export")).json()
    kazakhstan = next(c for c in before["countries"] if c["id"] == "KAZ")
    for write in (
        writer.post("/api/v1/countries", json={**MONGOLIA, "names": names}),
        writer.put("/api/v1/countries/KAZ", json={**kazakhstan, "names": names}),
        writer.patch("/api/v1/countries/KAZ", json={"names": names}),
    ):
        problem = assert_problem(await write, 422)
        assert [e["pointer"] for e in problem["errors"]] == [pointer], problem
        assert detail in problem["errors"][0]["detail"]
    assert (await writer.get("/api/v1/export")).json() == before  # nothing written


async def test_names_are_written_in_the_order_of_the_languages_and_patched_member_by_member(
    writer,
):
    given = dict(reversed(pycountry_names("MNG").items()))
    created = await writer.post("/api/v1/countries", json={**MONGOLIA, "names": given})
    assert created.status_code == 201, created.text
    assert list(created.json()["names"]) == [t for t in NAME_LANGUAGES if t in given]
    assert created.json()["names"] == pycountry_names("MNG")
    # A merge patch: `ru` replaced, `uz` removed by its null, every other name kept.
    path = "/api/v1/countries/KAZ"
    patched = await writer.patch(path, json={"names": {"ru": "Республика Казахстан", "uz": None}})
    assert patched.status_code == 200, patched.text
    expected = {**pycountry_names("KAZ"), "ru": "Республика Казахстан"}
    del expected["uz"]
    assert patched.json()["names"] == expected
    assert (await writer.get(path, headers={"Authorization": ""})).json()["names"] == expected
    version = int(patched.headers["x-dataset-version"])
    (item,) = (await writer.get(f"/api/v1/feed?since={version - 1}")).json()["items"]
    assert (item["op"], item["id"], item["entity"]["names"]) == ("update", "KAZ", expected)
    (change,) = (await writer.get("/api/v1/changes?limit=1")).json()["items"]
    assert change["before"]["names"] == pycountry_names("KAZ")
    assert change["after"]["names"] == expected
