"""The coverage rule at every door: the seed loader and the writes refuse provenance that is
missing or malformed, name what is wrong, and write nothing."""

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.data.engine import make_engine
from app.data.provenance import context_of, provenance_errors, with_old_meaning
from app.data.reads import get_entity
from app.data.registry import BY_NAME
from app.data.rows import Outcome
from seed.loader import SeedError, load, load_file, parse
from tests.conftest import FIXTURES, assert_problem, edited_seed, migrate

TRADE = BY_NAME["trade-statistics"]
RECORD = {
    "id": "t",
    "year": 2024,
    "value": 1,
    "currency": "USD",
    "record_high": None,
    "partners": [],
    "sources": [{"source": "iso-4217", "fields": ["currency"]}],
    "derivations": [{"fields": ["year", "value"], "basis": "derived", "note": "n"}],
}


# --- the rule itself, on records -----------------------------------------------------------------


def test_a_value_nothing_supports_is_named_and_empty_values_need_nothing():
    assert provenance_errors(TRADE, RECORD) == []
    errors = provenance_errors(TRADE, {**RECORD, "record_high": False, "partners": ["KAZ"]})
    unsupported = "no citation or derivation supports this value: name it in the fields of one"
    assert [(e.path, e.detail) for e in errors] == [
        (("record_high",), unsupported),
        (("partners",), unsupported),
    ]


def test_names_in_no_language_state_nothing_and_need_no_citation():
    country = {
        "id": "KAZ",
        "iso2": "KZ",
        "iso_numeric": "398",
        "name": "Kazakhstan",
        "capital": "Astana",
        "region": "central-asia",
        "names": {},
        "sources": [
            {"source": "iso-3166-1", "fields": ["iso2", "iso_numeric", "name", "capital"]},
            {"source": "un-m49", "fields": ["region"]},
        ],
    }
    countries = BY_NAME["countries"]
    assert provenance_errors(countries, country) == []
    (error,) = provenance_errors(countries, {**country, "names": {"ru": "Казахстан"}})
    assert error.path == ("names",)


def test_fields_must_name_fields_of_the_record():
    record = {**RECORD, "sources": [{"source": "iso-4217", "fields": ["currency", "colour"]}]}
    (error,) = provenance_errors(TRADE, record)
    assert error.path == ("sources", 0, "fields", 1)
    assert error.detail == "'colour' is not a field of a trade statistic"


def test_sources_describe_themselves_and_need_no_citation():
    assert provenance_errors(BY_NAME["sources"], {"id": "s", "title": "T", "type": "article"}) == []


def test_context_is_up_to_32_characters_either_side():
    text = "a" * 40 + "QUOTE" + "b" * 10
    assert context_of(text, 40, 45) == ("a" * 32, "b" * 10)
    assert context_of("QUOTE", 0, 5) == ("", "")


def test_a_record_from_before_field_level_provenance_keeps_its_old_meaning():
    old = {
        "id": "t",
        "year": 2024,
        "value": 0,
        "notes": None,
        "partners": ["KAZ"],
        "value_as_stated": "",
        "sources": [{"source": "iso-4217"}, {"source": "un-m49"}],
    }
    upgraded = with_old_meaning(TRADE, old)
    assert [c["fields"] for c in upgraded["sources"]] == [["year", "value", "partners"]] * 2
    assert upgraded["derivations"] == []


# --- the seed loader -----------------------------------------------------------------------------


def record_of(data: dict, collection: str, entity_id: str) -> dict:
    return next(r for r in data[collection] if r["id"] == entity_id)


def usd(data: dict) -> dict:
    return record_of(data, "trade-statistics", "china-central-asia-trade-2024-usd")


def give_the_dollar_record_a_change(data):
    usd(data).update(change_percent=116, change_base_year=2013)


def cite_an_unknown_field(data):
    usd(data)["sources"][2]["fields"] = ["currency", "exchange_rate"]


def quote_an_unknown_person(data):
    usd(data)["sources"][0]["said_by"] = "li-qiang"


def leave_out_fields(data):
    del usd(data)["sources"][2]["fields"]


def guess_a_basis(data):
    usd(data)["derivations"][0]["basis"] = "guessed"


def leave_out_every_support_of_a_record(data):
    """One record in the old shape, in a file that is not: it cannot pass for an old export."""
    del usd(data)["derivations"]
    for citation in usd(data)["sources"]:
        del citation["fields"]


def restate_nothing(data):
    usd(data)["equivalent_of"] = "china-central-asia-trade-2024-eur"


def restate_itself(data):
    usd(data)["equivalent_of"] = usd(data)["id"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (give_the_dollar_record_a_change, "change_percent: no citation or derivation supports"),
        (cite_an_unknown_field, "sources.2.fields.1: 'exchange_rate' is not a field"),
        (quote_an_unknown_person, "sources.0.said_by: there is no person 'li-qiang'"),
        (leave_out_fields, "sources.2.fields: Field required"),
        (guess_a_basis, "derivations.0.basis: Input should be 'derived' or 'inferred'"),
        (leave_out_every_support_of_a_record, "sources.0.fields: Field required"),
        (
            restate_nothing,
            "equivalent_of: there is no trade statistic 'china-central-asia-trade-2024-eur'",
        ),
        (restate_itself, "equivalent_of: a figure cannot be the equivalent of itself"),
    ],
)
def test_the_loader_refuses_unsupported_or_malformed_provenance_and_writes_nothing(
    engine, tmp_path, edit, message
):
    def edit_and_change_a_city(data):
        record_of(data, "summits", "second-summit")["city"] = "Almaty"  # valid, never written
        edit(data)

    path = edited_seed(tmp_path, edit_and_change_a_city)
    with pytest.raises(SeedError) as refused:
        load_file(engine, path)
    assert str(path) in str(refused.value)
    assert "'china-central-asia-trade-2024-usd'" in str(refused.value)
    assert message in str(refused.value)
    with engine.connect() as connection:
        city = connection.execute(text("SELECT city FROM summit WHERE number = 2")).scalar_one()
        kept = connection.execute(
            text("SELECT change_percent FROM trade_statistic WHERE currency = 'USD'")
        ).scalar_one()
    assert (city, kept) == ("Astana", None)


def test_the_loader_refuses_names_that_cite_nothing(engine, tmp_path):
    def uncite_the_names(data):
        china = record_of(data, "countries", "CHN")
        china["sources"] = [c for c in china["sources"] if "names" not in c["fields"]]

    path = edited_seed(tmp_path, uncite_the_names)
    with pytest.raises(SeedError) as refused:
        load_file(engine, path)
    assert "countries[0] (id 'CHN'): names: no citation or derivation supports this value" in str(
        refused.value
    )


def test_an_export_from_before_field_level_provenance_still_loads(empty_database_url):
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    report = load(engine, parse(FIXTURES / "export-before-provenance.json"))
    with Session(engine) as session:
        entity = get_entity(session, TRADE, "kazakhstan-trade-2023")  # written then, by the API
    engine.dispose()
    assert report.changes["commitments"][Outcome.CREATED] == 6  # five seeded, one written
    # The old meaning: a citation supported the entity, that is each field it gave a value.
    assert entity is not None and entity["derivations"] == []
    assert [c["fields"] for c in entity["sources"]] == [
        ["year", "reporter", "flow", "value", "currency", "record_high", "partners"]
    ]


# --- the writes ----------------------------------------------------------------------------------

QUOTE = "China also pledged to provide 3,000 training opportunities"
PLEDGE = {
    "title": "Training for Central Asian countries",
    "kind": "pledge",
    "description": "China pledged training opportunities.",
    "summit": 2,
    "parties": ["CHN"],
    "sources": [{"source": "article", "quote": QUOTE, "fields": ["title", "kind", "parties"]}],
    "derivations": [
        {"fields": ["summit"], "basis": "inferred", "note": "In the summit's account."}
    ],
}


def cite(**changes) -> dict:
    return {**PLEDGE["sources"][0], **changes}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("changes", "pointer", "detail"),
    [
        ({"quantity": 3000}, "/quantity", "no citation or derivation supports this value"),
        ({"derivations": []}, "/summit", "no citation or derivation supports this value"),
        (
            {"sources": [cite(fields=["title", "kind", "parties", "colour"])]},
            "/sources/0/fields/3",
            "'colour' is not",
        ),
        ({"sources": [cite(fields=[])]}, "/sources/0/fields", "at least 1 item"),
        ({"sources": [cite(fields=None)]}, "/sources/0/fields", "valid list"),
        ({"sources": [cite(said_by="li-qiang")]}, "/sources/0/said_by", "no person 'li-qiang'"),
        (
            {"derivations": [{"fields": ["summit"], "basis": "guess", "note": "n"}]},
            "/derivations/0/basis",
            "'derived' or 'inferred'",
        ),
        (
            {"derivations": [{"fields": ["summit"], "basis": "inferred"}]},
            "/derivations/0/note",
            "Field required",
        ),
    ],
)
async def test_a_write_with_unsupported_or_malformed_provenance_is_422_and_writes_nothing(
    writer, changes, pointer, detail
):
    before = await writer.get("/api/v1/commitments")
    response = await writer.post("/api/v1/commitments", json={**PLEDGE, **changes})
    problem = assert_problem(response, 422)
    assert [e["pointer"] for e in problem["errors"]] == [pointer], problem
    assert detail in problem["errors"][0]["detail"]
    after = await writer.get("/api/v1/commitments")
    assert after.json()["total"] == before.json()["total"]
    assert after.headers["x-dataset-version"] == before.headers["x-dataset-version"]


@pytest.mark.anyio
async def test_a_country_with_names_but_no_citation_of_them_is_refused(writer):
    """Names state something and need their support; no names state nothing and need none."""
    export = (await writer.get("/api/v1/export")).json()
    kazakhstan = next(c for c in export["countries"] if c["id"] == "KAZ")
    uncited = [c for c in kazakhstan["sources"] if "names" not in c["fields"]]
    assert len(uncited) == len(kazakhstan["sources"]) - 1
    for write in (
        writer.put("/api/v1/countries/KAZ", json={**kazakhstan, "sources": uncited}),
        writer.patch("/api/v1/countries/KAZ", json={"sources": uncited}),
    ):
        problem = assert_problem(await write, 422)
        unsupported = "no citation or derivation supports this value: name it in the fields of one"
        assert [(e["pointer"], e["detail"]) for e in problem["errors"]] == [("/names", unsupported)]
    assert (await writer.get("/api/v1/export")).json() == export  # nothing written
    nameless = {**kazakhstan, "names": {}, "sources": uncited}
    response = await writer.put("/api/v1/countries/KAZ", json=nameless)
    assert response.status_code == 200, response.text
    assert response.json()["names"] == {}


@pytest.mark.anyio
async def test_the_server_computes_prefix_and_suffix_and_keeps_who_said_it(writer):
    response = await writer.post(
        "/api/v1/commitments", json={**PLEDGE, "sources": [cite(said_by="xi-jinping")]}
    )
    assert response.status_code == 201, response.text
    (citation,) = response.json()["sources"]
    text = (await writer.get("/api/v1/sources/article")).json()["text"]
    start = text.index(QUOTE)
    assert citation["prefix"] == text[start - 32 : start]
    assert citation["suffix"] == text[start + len(QUOTE) : start + len(QUOTE) + 32]
    assert citation["said_by"] == "xi-jinping"
    # Given back, or given wrong, prefix and suffix are the server's all the same.
    again = await writer.put(response.headers["location"], json={**PLEDGE, "sources": [citation]})
    assert again.status_code == 200, again.text
    wrong = {**citation, "prefix": "Meanwhile, ", "suffix": "!"}
    kept = await writer.put(response.headers["location"], json={**PLEDGE, "sources": [wrong]})
    assert kept.json()["sources"][0] == citation


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("quote", "prefix", "suffix"),
    [
        ("President Xi Jinping", "Chinese ", " attended the second China-Centr"),
        ("compared with 2013.", ".3b) in 2024, up by 116 percent ", ""),
    ],
)
async def test_context_near_the_ends_of_the_text(writer, quote, prefix, suffix):
    """Quotes closer to the start or the end of the text than 32 characters."""
    body = {**PLEDGE, "sources": [cite(quote=quote)]}
    created = await writer.post("/api/v1/commitments", json=body)
    assert created.status_code == 201, created.text
    served = (await writer.get(created.headers["location"])).json()["sources"][0]
    assert (served["prefix"], served["suffix"]) == (prefix, suffix)
    assert created.json()["sources"][0] == served


@pytest.mark.anyio
async def test_a_patch_that_adds_an_unsupported_value_is_422_until_something_supports_it(writer):
    refused = await writer.patch("/api/v1/summits/2", json={"province": "Akmola Region"})
    assert [e["pointer"] for e in assert_problem(refused, 422)["errors"]] == ["/province"]
    assert (await writer.get("/api/v1/summits/2")).json()["province"] is None
    summit = (await writer.get("/api/v1/summits/2")).json()
    note = {"fields": ["province"], "basis": "inferred", "note": "Astana is in no province."}
    accepted = await writer.patch(
        "/api/v1/summits/2",
        json={"province": "Akmola Region", "derivations": [*summit["derivations"], note]},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["derivations"][-1] == note


@pytest.mark.anyio
async def test_a_person_who_is_quoted_cannot_be_deleted(writer):
    response = await writer.delete("/api/v1/people/wang-yi")
    problem = assert_problem(response, 409)
    assert "commitments 'cooperation-outcomes' (quotes them)" in problem["detail"]


SAID_SO = {"fields": ["equivalent_of", "reporter", "partners"], "basis": "inferred", "note": "x"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "patch", "detail"),
    [
        ("-usd", {"equivalent_of": "china-central-asia-trade-2024-usd"}, "equivalent of itself"),
        (
            "-cny",
            {"equivalent_of": "china-central-asia-trade-2024-usd", "derivations": [SAID_SO]},
            "restates this figure",
        ),
        ("-usd", {"currency": "CNY", "value_as_stated": None}, "is in CNY too"),
    ],
)
async def test_an_equivalent_names_an_original_in_another_currency(writer, path, patch, detail):
    url = f"/api/v1/trade-statistics/china-central-asia-trade-2024{path}"
    problem = assert_problem(await writer.patch(url, json=patch), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/equivalent_of"]
    assert detail in problem["errors"][0]["detail"]


@pytest.mark.anyio
async def test_an_equivalent_of_an_equivalent_is_refused(writer):
    usd = (await writer.get("/api/v1/trade-statistics/china-central-asia-trade-2024-usd")).json()
    euro = {**usd, "id": "trade-2024-eur", "currency": "EUR", "value": 1, "value_as_stated": None}
    euro["equivalent_of"] = usd["id"]
    problem = assert_problem(await writer.post("/api/v1/trade-statistics", json=euro), 422)
    assert "restates 'china-central-asia-trade-2024-cny': name the original" in problem["detail"]
