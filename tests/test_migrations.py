"""The schema comes from the migrations alone, and they agree with the models."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from app.db import make_engine
from app.main import PROJECT_ROOT, schema_head
from app.models import metadata
from tests.conftest import BACKEND, migrate


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
