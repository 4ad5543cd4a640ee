"""The schema comes from the migrations alone, they agree with the models, and they carry
existing data forward."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Date, MetaData, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.data.engine import make_engine
from app.data.registry import COLLECTIONS
from app.data.tables import metadata
from app.main import PROJECT_ROOT, create_app, schema_head
from seed.loader import DEFAULT_FILE
from tests.conftest import (
    API_KEYS,
    BACKEND,
    EDITOR_KEY,
    FIXTURES,
    SEED_VERSION,
    app_client,
    assert_problem,
    migrate,
    pycountry_names,
)

EDITOR = {"Authorization": f"Bearer {EDITOR_KEY}"}


def test_migrations_produce_exactly_the_models_schema(empty_database_url):
    migrate(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_object": lambda obj, name, type_, *_: (
                    not (type_ == "table" and name.startswith("search_index"))
                ),
                "compare_type": True,
            },
        )
        assert compare_metadata(context, metadata) == []
    engine.dispose()


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's own settings; this run is on PostgreSQL")
def test_sqlite_runs_with_foreign_keys_and_wal(engine):
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_downgrade_to_base_removes_every_table(empty_database_url):
    url = empty_database_url
    migrate(url)
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.downgrade(config, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_constraints_hold_in_the_database(engine):
    statements = [
        "UPDATE summit SET end_date = '2025-06-01' WHERE number = 2",
        "UPDATE trade_statistic SET currency = 'usd' WHERE currency = 'USD'",
        "UPDATE trade_statistic SET value = -5",
        "INSERT INTO summit_participant (summit_id, country_id) VALUES ('first-summit', 'FRA')",
        "INSERT INTO country (id, iso2, iso_numeric, name, capital, region)"
        " VALUES ('KAZ', 'QQ', '999', 'Duplicate', 'X', 'central-asia')",
    ]
    for statement in statements:
        with engine.begin() as connection, pytest.raises(IntegrityError):
            connection.execute(text(statement))


def test_replicas_starting_together_migrate_once(empty_database_url):
    """Four `alembic upgrade head` at once, as replicas of a deployment would run them: all
    succeed, one after another, and the schema is migrated once."""
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    alembic = str(Path(sys.executable).with_name("alembic"))
    runs = [
        subprocess.Popen(
            [alembic, "upgrade", "head"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    # A second run of the first migration would fail on tables that exist: none did.
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v for (v,) in versions] == [schema_head()]


BEFORE_PROVENANCE = "5d7a9e31c042"
OLD_EXPORT = FIXTURES / "export-before-provenance.json"


def _insert_as_it_was(url: str, export: dict) -> None:
    """Write `export` (records made before field-level provenance, by the seed and the API)
    into a database at that revision, row by row into the tables as they were then."""
    engine = make_engine(url)
    tables = MetaData()
    tables.reflect(engine)

    def row(table: Table, values: dict) -> dict:
        kept = {c.name: values[c.name] for c in table.columns if c.name in values}
        for name, value in kept.items():
            if isinstance(table.c[name].type, Date) and value is not None:
                kept[name] = dt.date.fromisoformat(value)
        return kept

    with engine.begin() as connection:
        for collection in COLLECTIONS:
            table = tables.tables[collection.table.__tablename__]
            for record in export[collection.name]:
                connection.execute(table.insert(), row(table, record))
                for link in collection.lists:
                    link_table = tables.tables[link.table.__tablename__]
                    for value in record[link.field]:
                        connection.execute(
                            link_table.insert(), {link.owner: record["id"], link.value: value}
                        )
                for position, citation in enumerate(record.get("sources", [])):
                    values = {**citation, "collection": collection.name, "entity_id": record["id"]}
                    values |= {"position": position, "source_id": citation["source"]}
                    connection.execute(
                        tables.tables["citation"].insert(), row(tables.tables["citation"], values)
                    )
        connection.execute(
            tables.tables["dataset_version"].insert(),
            {"id": 1, "version": 4, "updated_at": dt.datetime(2026, 11, 30, tzinfo=dt.UTC)},
        )
    engine.dispose()


def _row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    names = [n for n in inspect(engine).get_table_names() if not n.startswith("search_index")]
    with engine.connect() as connection:
        counts = {
            n: connection.execute(text(f'SELECT count(*) FROM "{n}"')).scalar_one() for n in names
        }
    engine.dispose()
    return counts


@pytest.mark.anyio
async def test_a_database_from_before_field_level_provenance_is_carried_forward(
    empty_database_url,
):
    """Every row survives, the trade figures' partners included (a rebuilt table's rows must not
    cascade away), and each citation supports what it supported then: the whole entity."""
    url = empty_database_url
    migrate(url, BEFORE_PROVENANCE)
    export = json.loads(OLD_EXPORT.read_text(encoding="utf-8"))
    _insert_as_it_was(url, export)
    before = _row_counts(url)
    migrate(url)
    after = _row_counts(url)
    # Nothing is lost; the countries' names bring their source, and a citation each.
    added = {"source": 1, "citation": len(export["countries"])}
    assert {name: after[name] for name in before} == {
        name: count + added.get(name, 0) for name, count in before.items()
    }
    assert before["trade_statistic_partner"] == 11 and before["citation"] == 72
    assert after["derivation"] == 0
    async with app_client(create_app(Settings(database_url=url))) as client:
        summit = (await client.get("/api/v1/summits/1")).json()
        trade = (await client.get("/api/v1/trade-statistics/kazakhstan-trade-2023")).json()
        written = (await client.get("/api/v1/commitments/three-cooperation-centers")).json()
    assert [c["fields"] for c in summit["sources"]] == [
        [
            "number",
            "name",
            "city",
            "province",
            "host_country",
            "start_date",
            "end_date",
            "participants",
        ]
    ] * 2
    assert trade["partners"] == ["KAZ"] and trade["record_high"] is False
    assert trade["sources"][0]["fields"] == [
        "year",
        "reporter",
        "flow",
        "value",
        "currency",
        "record_high",
        "partners",
    ]
    assert written["sources"][0]["said_by"] is None
    article = next(s for s in export["sources"] if s["id"] == "article")["text"]
    citation = written["sources"][0]
    assert citation["prefix"] == article[citation["start"] - 32 : citation["start"]]
    assert citation["prefix"].endswith("tangible outcomes. Meanwhile, ")


def _search_rows(url: str) -> list[tuple]:
    engine = make_engine(url)
    with engine.connect() as connection:
        columns = [c["name"] for c in inspect(connection).get_columns("search_index")]
        kept = [c for c in ("type", "entity_id", "url", "title", "body") if c in columns]
        query = f"SELECT {', '.join(kept)} FROM search_index ORDER BY type, entity_id"
        rows = [tuple(row) for row in connection.execute(text(query))]
    engine.dispose()
    return rows


@pytest.mark.anyio
async def test_the_search_index_is_carried_across_the_removal_of_its_urls(database_url):
    """Down to the revision whose index kept URLs and up again: every indexed row survives both
    ways, with a URL that serves its entity on the way down and none on the way up."""
    seeded = _search_rows(database_url)
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "2c7f17dc4e36")
    with_urls = _search_rows(database_url)
    seed = json.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    entities = sum(len(seed[c.name]) for c in COLLECTIONS)
    assert len(seeded) == entities == 41  # one row per entity
    # Down there no country has names, and their source is gone with its row.
    names_source = ("sources", "iso-3166-1-translations")
    assert [(t, i, ti, b) for t, i, _, ti, b in with_urls] == [
        row for row in seeded if row[:2] != names_source
    ]
    assert ("countries", "CHN", "/api/v1/countries/CHN") in {row[:3] for row in with_urls}
    migrate(database_url)
    assert _search_rows(database_url) == seeded
    async with app_client(create_app(Settings(database_url=database_url))) as client:
        for _, _, url, _, _ in with_urls[::9]:
            assert (await client.get(url)).status_code == 200, url
        hits = (await client.get("/api/v1/search?q=desertification")).json()["items"]
    assert hits and all(hit["url"].startswith("/api/v1/") for hit in hits)


@pytest.mark.anyio
async def test_the_current_state_becomes_the_first_version_of_every_history(database_url):
    """A database written to through the API before there was a history: upgraded, each entity
    it holds has one version, its current state, after the dataset version it had; what was
    deleted before has none, and the dataset version never goes back."""
    settings = Settings(database_url=database_url, summit_api_keys=API_KEYS)
    async with app_client(create_app(settings), headers=EDITOR) as writer:
        await writer.patch("/api/v1/countries/KAZ", json={"capital": "Nur-Sultan"})
        await writer.delete("/api/v1/principles/mutual-respect-and-equality")
        await writer.patch("/api/v1/countries/KAZ", json={"capital": "Astana"})
        patched_at = (await writer.get("/api/v1/changes?limit=1")).json()["items"][0]["at"]
        before = (await writer.get("/api/v1/export")).json()
    assert before["version"] == SEED_VERSION + 3
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "7b3e9c1d2a64")  # a database from before the history
    assert "entity_version" not in inspect(make_engine(database_url)).get_table_names()
    migrate(database_url)
    # The database went down to before the countries' names too: their source went with them.
    records = [
        (name, e)
        for name in before
        if name != "version"
        for e in before[name]
        if e["id"] != "iso-3166-1-translations"
    ]
    assert len(records) == 39
    # On the way down the names' own versions moved the dataset version on: 6 countries changed
    # and their source deleted, then that history was dropped with its table.
    carried_from = before["version"] + 7
    history_from = carried_from + len(records)
    async with app_client(create_app(settings)) as client:
        feed = (await client.get("/api/v1/feed?since=0&limit=1000")).json()["items"]
        after = (await client.get("/api/v1/export")).json()
        deleted = await client.get("/api/v1/principles/mutual-respect-and-equality/history")
        # The history holds the whole dataset from its last carried version on, not before.
        whole = (await client.get(f"/api/v1/export?as_of={after['version']}")).json()
        partial = await client.get(f"/api/v1/export?as_of={history_from - 1}")
        unknown = await client.get(f"/api/v1/countries/KAZ?as_of={before['version']}")
    # Then the names came back, each change a version of its own (see the test of that).
    items = [i for i in feed if i["version"] <= history_from]
    assert [(i["op"], i["type"]) for i in feed[len(items) :]] == [("create", "sources")] + [
        ("update", "countries")
    ] * 6
    assert [i["version"] for i in feed] == list(range(carried_from + 1, after["version"] + 1))
    assert after["version"] == history_from + 1 + 6
    assert {i["op"] for i in items} == {"create"}
    assert [i["type"] for i in items] == [name for name, _ in records]  # collection by collection
    assert {(i["type"], i["id"]): i["entity"] for i in items} == {
        (name, e["id"]): {k: v for k, v in e.items() if k != "names"}
        | ({"sources": e["sources"][:-1]} if name == "countries" else {})
        for name, e in records
    }
    kaz = next(i for i in items if i["id"] == "KAZ")
    assert kaz["entity"]["capital"] == "Astana"
    assert dt.datetime.fromisoformat(kaz["at"]) == dt.datetime.fromisoformat(patched_at).replace(
        tzinfo=dt.UTC
    )
    assert {name: after[name] for name in after if name != "version"} == {
        name: before[name] for name in before if name != "version"
    }
    assert deleted.status_code == 404
    assert whole == after
    for refused in (partial, unknown):
        problem = assert_problem(refused, 400)
        assert (
            problem["detail"]
            == f"as_of: is before version {history_from}, where this database's history begins"
        )


BEFORE_NAMES = "4e1d2c3b5a69"
NAMES_SOURCE = "iso-3166-1-translations"
# A country written through the API, without names: the migration finds its names too. Its
# derivation names `names`, which the revision before does not have: down there it must not.
MONGOLIA = {
    "id": "MNG",
    "iso2": "MN",
    "iso_numeric": "496",
    "name": "Mongolia",
    "capital": "Ulaanbaatar",
    "region": "east-asia",
    "sources": [{"source": "iso-3166-1", "fields": ["id", "iso2", "iso_numeric", "name"]}],
    "derivations": [
        {"fields": ["capital", "region", "names"], "basis": "inferred", "note": "A test."}
    ],
}


def _downgrade(url: str, revision: str) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.downgrade(config, revision)


def _replayed(items: list[dict]) -> dict:
    """What a copy holds that applied `items` to nothing: each entity's last state."""
    copy: dict = {}
    for item in items:
        copy.setdefault(item["type"], {})[item["id"]] = item["entity"]
    return {name: {k: e for k, e in es.items() if e is not None} for name, es in copy.items()}


def _by_id(export: dict) -> dict:
    return {name: {e["id"]: e for e in es} for name, es in export.items() if name != "version"}


@pytest.mark.anyio
async def test_countries_are_given_their_names_and_each_change_is_a_version(database_url):
    """A database from before the names, written to through the API: upgraded, every country
    has the names pycountry gives it, cited to their source, which is there now; nothing else
    changed; and each change is a version of its own, so the feed still gives the export. Down
    again, the names and their support are gone, each of those changes a version too."""
    settings = Settings(database_url=database_url, summit_api_keys=API_KEYS)
    async with app_client(create_app(settings), headers=EDITOR) as writer:
        assert (await writer.post("/api/v1/countries", json=MONGOLIA)).status_code == 201
        await writer.patch("/api/v1/countries/KAZ", json={"capital": "Nur-Sultan"})
        # Lost on the way down with the column; what comes back up is pycountry's.
        await writer.patch("/api/v1/countries/KAZ", json={"names": {"ru": "Республика"}})
        at_head = (await writer.get("/api/v1/export")).json()
    _downgrade(database_url, BEFORE_NAMES)
    engine = make_engine(database_url)
    assert "names" not in {c["name"] for c in inspect(engine).get_columns("country")}
    with engine.connect() as connection:
        citing = sum(
            connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE CAST(fields AS TEXT) LIKE '%\"names\"%'")
            ).scalar_one()
            for table in ("citation", "derivation")
        )
        sourced = connection.execute(
            text("SELECT count(*) FROM source WHERE id = :id"), {"id": NAMES_SOURCE}
        ).scalar_one()
        version = connection.execute(text("SELECT version FROM dataset_version")).scalar_one()
    assert (citing, sourced) == (0, 0)
    # Down there too, each entity changed is a version: 7 countries, then the source's delete.
    assert version == at_head["version"] + 7 + 1
    before = _row_counts(database_url)
    engine.dispose()

    migrate(database_url)
    after = _row_counts(database_url)
    added = {"source": 1, "citation": 7, "entity_version": 1 + 7}
    assert after == {name: count + added.get(name, 0) for name, count in before.items()}
    async with app_client(create_app(Settings(database_url=database_url))) as client:
        export = (await client.get("/api/v1/export")).json()
        feed = (await client.get(f"/api/v1/feed?since={version}")).json()["items"]
        everything = (await client.get("/api/v1/feed?since=0&limit=1000")).json()["items"]
        below = (await client.get(f"/api/v1/export?as_of={version}")).json()
        found = (await client.get("/api/v1/search?q=debian")).json()["items"]
        names_page = (await client.get(f"/api/v1/sources/{NAMES_SOURCE}")).json()
    ids = ["CHN", "KAZ", "KGZ", "MNG", "TJK", "TKM", "UZB"]
    assert [(i["version"], i["op"], i["type"], i["id"]) for i in feed] == [
        (version + 1, "create", "sources", NAMES_SOURCE)
    ] + [(version + 2 + n, "update", "countries", code) for n, code in enumerate(ids)]
    assert export["version"] == version + 8
    countries = {c["id"]: c for c in export["countries"]}
    assert list(countries) == ids
    for code, country in countries.items():
        assert country["names"] == pycountry_names(code), code
        assert country["sources"][-1] == {
            "source": NAMES_SOURCE,
            "quote": None,
            "start": None,
            "end": None,
            "fields": ["names"],
            "said_by": None,
            "prefix": None,
            "suffix": None,
        }
    assert countries["CHN"]["names"]["zh"] == "中国" and "tk" not in countries["CHN"]["names"]
    assert countries["KAZ"]["capital"] == "Nur-Sultan"  # the API's change, carried
    # Nothing else changed: the export at head, but for the names that went down and up.
    kazakhstan = next(c for c in at_head["countries"] if c["id"] == "KAZ")
    kazakhstan["names"]["ru"] = pycountry_names("KAZ")["ru"]
    mongolia = next(c for c in at_head["countries"] if c["id"] == "MNG")
    mongolia["names"] = pycountry_names("MNG")
    mongolia["sources"] = countries["MNG"]["sources"]
    assert [d["fields"] for d in countries["MNG"]["derivations"]] == [["capital", "region"]]
    mongolia["derivations"] = countries["MNG"]["derivations"]
    assert _by_id(export) == _by_id(at_head)
    # The feed gives the export, as it gave the state below at each version down there.
    assert {(i["type"], i["id"]): i["entity"] for i in feed} == {
        ("sources", NAMES_SOURCE): next(s for s in export["sources"] if s["id"] == NAMES_SOURCE)
    } | {("countries", code): country for code, country in countries.items()}
    assert _replayed(everything) == _by_id(export)
    assert {c["id"]: c.get("names") for c in below["countries"]} == {code: {} for code in ids}
    assert NAMES_SOURCE not in {s["id"] for s in below["sources"]}
    assert [(hit["type"], hit["id"]) for hit in found] == [("sources", NAMES_SOURCE)]
    assert names_page["title"].startswith("ISO 3166-1 country names")
