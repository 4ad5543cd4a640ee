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
    assert {name: after[name] for name in before} == before
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
    assert len(with_urls) == len(seeded) == entities == 40  # one row per entity
    assert [(t, i, ti, b) for t, i, _, ti, b in with_urls] == seeded
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
    async with app_client(create_app(settings)) as client:
        items = (await client.get("/api/v1/feed?since=0&limit=1000")).json()["items"]
        after = (await client.get("/api/v1/export")).json()
        deleted = await client.get("/api/v1/principles/mutual-respect-and-equality/history")
        # The history holds the whole dataset from its last carried version on, not before.
        whole = (await client.get(f"/api/v1/export?as_of={after['version']}")).json()
        partial = await client.get(f"/api/v1/export?as_of={after['version'] - 1}")
        unknown = await client.get(f"/api/v1/countries/KAZ?as_of={before['version']}")
    records = [(name, e) for name in before if name != "version" for e in before[name]]
    assert len(records) == 39
    assert [i["version"] for i in items] == list(range(before["version"] + 1, after["version"] + 1))
    assert after["version"] == before["version"] + 39
    assert {i["op"] for i in items} == {"create"}
    assert [i["type"] for i in items] == [name for name, _ in records]  # collection by collection
    assert {(i["type"], i["id"]): i["entity"] for i in items} == {
        (name, e["id"]): e for name, e in records
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
            == f"as_of: is before version {after['version']}, where this database's history begins"
        )
