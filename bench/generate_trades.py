"""Load N synthetic trade statistics into a migrated, seeded database, for benchmarks.

    .venv/bin/python bench/generate_trades.py \\
        --database-url sqlite:////tmp/x/bench.db --rows 1000000

Every row is `synthetic-0000001`, `synthetic-0000002`, … with one partner and one citation of the
source `synthetic` (added here; it holds no text and is no data from anywhere). The rows come from
`random.Random(2026)`, so two runs give the same data on SQLite and on PostgreSQL. Everything is one
transaction that also moves `dataset_version` on, so a running server's caches see the change; then
the tables are analyzed. A database that already holds synthetic rows is refused (exit status 2).

SQLite is loaded with Core `insert()` executemany in batches, PostgreSQL with psycopg's COPY.
"""

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)

SEED = 2026
BATCH_SIZE = 20_000
ID_PREFIX = "synthetic-"
ID_DIGITS = 7
MAX_ROWS = 10**ID_DIGITS - 1
YEARS = (1992, 2025)
FLOWS = ("total", "export", "import")
MAX_VALUE = 10**11
CURRENCIES = ("USD", "CNY", "KZT", "KGS", "TJS", "TMT", "UZS", "EUR", "RUB", "GBP")
COLLECTION = "trade-statistics"
SOURCE = {
    "id": "synthetic",
    "type": "reference",
    "title": "Synthetic benchmark rows (not data from any source)",
    "publisher": None,
    "published": None,
    "url": None,
    "text": None,
}
PG_WRITE_LOCK_KEY = 20261127  # app/db.py's WRITE_LOCK_KEY: queue with the server's writers
SQLITE_PRAGMAS = ("foreign_keys=ON", "journal_mode=WAL", "synchronous=OFF", "busy_timeout=5000")
SUPPORTED_FIELDS = ["year", "reporter", "flow", "value", "currency", "partners"]
TABLE_NAMES = ("trade_statistic", "trade_statistic_partner", "citation", "source")


class Refused(Exception):
    """The database is not one this script may load into."""


class Row(NamedTuple):
    id: str
    year: int
    reporter: str
    partner: str
    flow: str
    value: int
    currency: str


@dataclass(frozen=True)
class Tables:
    trade: Table
    partner: Table
    citation: Table
    source: Table
    version: Table
    country: Table


Writer = Callable[[Connection, Tables, Sequence[Row]], None]


# --- the data ------------------------------------------------------------------------------------


def generate(count: int, countries: Sequence[str]) -> Iterator[Row]:
    """`count` rows, the same ones every time for the same countries."""
    rng = random.Random(SEED)
    others = {c: [o for o in countries if o != c] for c in countries}
    for number in range(1, count + 1):
        reporter = rng.choice(countries)
        yield Row(
            id=f"{ID_PREFIX}{number:0{ID_DIGITS}d}",
            year=rng.randint(*YEARS),
            reporter=reporter,
            partner=rng.choice(others[reporter]),
            flow=rng.choice(FLOWS),
            value=rng.randint(0, MAX_VALUE),
            currency=rng.choice(CURRENCIES),
        )


def trade_values(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "year": row.year,
        "reporter": row.reporter,
        "flow": row.flow,
        "value": row.value,
        "currency": row.currency,
        "value_as_stated": None,
        "record_high": None,
        "change_percent": None,
        "change_base_year": None,
    }


def partner_values(row: Row) -> dict[str, Any]:
    return {"trade_statistic_id": row.id, "country_id": row.partner}


def citation_values(row: Row) -> dict[str, Any]:
    return {
        "collection": COLLECTION,
        "entity_id": row.id,
        "position": 0,
        "source_id": SOURCE["id"],
        "quote": None,
        "start": None,
        "end": None,
        # The synthetic source stands for every value of its rows.
        "fields": SUPPORTED_FIELDS,
        "said_by": None,
    }


def batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """`itertools.batched` of Python 3.12, for 3.11."""
    while batch := list(islice(rows, size)):
        yield batch


# --- writing -------------------------------------------------------------------------------------


def insert_batch(connection: Connection, tables: Tables, rows: Sequence[Row]) -> None:
    """Core executemany, one statement per table."""
    connection.execute(insert(tables.trade), [trade_values(r) for r in rows])
    connection.execute(insert(tables.partner), [partner_values(r) for r in rows])
    connection.execute(insert(tables.citation), [citation_values(r) for r in rows])


def copy_into(connection: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> None:
    """psycopg's COPY FROM STDIN, on the connection's own transaction."""
    first = next(rows, None)
    if first is None:
        return
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in first)
    statement = f"COPY {quote(table.name)} ({columns}) FROM STDIN"
    psycopg_connection: Any = connection.connection.driver_connection
    cursor = psycopg_connection.cursor()  # on the connection's own transaction
    with cursor, cursor.copy(statement) as copy:
        copy.write_row(tuple(first.values()))
        for values in rows:
            copy.write_row(tuple(values.values()))


def copy_batch(connection: Connection, tables: Tables, rows: Sequence[Row]) -> None:
    copy_into(connection, tables.trade, (trade_values(r) for r in rows))
    copy_into(connection, tables.partner, (partner_values(r) for r in rows))
    citations = (
        {
            k: json.dumps(v) if k == "fields" else v
            for k, v in citation_values(r).items()
            if v is not None
        }
        for r in rows
    )
    copy_into(connection, tables.citation, citations)  # quote, start, end default to NULL


def writer_for(engine: Engine) -> Writer:
    return copy_batch if engine.dialect.name == "postgresql" else insert_batch


# --- the database --------------------------------------------------------------------------------


def make_engine(database_url: str) -> Engine:
    """An engine; on SQLite with foreign keys on, WAL, no fsync, and BEGIN IMMEDIATE."""
    engine = create_engine(database_url)
    if engine.dialect.name != "sqlite":
        return engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
        for pragma in SQLITE_PRAGMAS:
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock at once

    return engine


def reflect(connection: Connection) -> Tables:
    metadata = MetaData()
    load = {name: Table(name, metadata, autoload_with=connection) for name in TABLE_NAMES}
    return Tables(
        trade=load["trade_statistic"],
        partner=load["trade_statistic_partner"],
        citation=load["citation"],
        source=load["source"],
        version=Table("dataset_version", metadata, autoload_with=connection),
        country=metadata.tables["country"],  # reflected as the target of foreign keys
    )


def take_write_lock(connection: Connection) -> None:
    """On PostgreSQL the server's writers queue on an advisory lock; SQLite's BEGIN IMMEDIATE
    already holds the database's."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK_KEY})


def check_loadable(connection: Connection, tables: Tables) -> list[str]:
    """The country ids to draw from; raises `Refused` for a database not fit to load into."""
    trade, source, version = tables.trade, tables.source, tables.version
    existing = connection.scalar(
        select(func.count()).select_from(trade).where(trade.c.id.like(f"{ID_PREFIX}%"))
    )
    if existing:
        raise Refused(f"the database already holds {existing} '{ID_PREFIX}%' trade statistics")
    if connection.scalar(select(source.c.id).where(source.c.id == SOURCE["id"])) is not None:
        raise Refused(f"the database already holds the source {SOURCE['id']!r}")
    if connection.scalar(select(version.c.version).where(version.c.id == 1)) is None:
        raise Refused("the database is not seeded: dataset_version has no row")
    countries = list(connection.scalars(select(tables.country.c.id).order_by(tables.country.c.id)))
    if len(countries) < 2:
        raise Refused(f"a partner needs a second country; the database has {countries}")
    return countries


def bump_version(connection: Connection, tables: Tables) -> None:
    version = tables.version
    connection.execute(
        update(version)
        .where(version.c.id == 1)
        .values(version=version.c.version + 1, updated_at=dt.datetime.now(dt.UTC))
    )


def analyze(engine: Engine) -> None:
    statement = "ANALYZE"
    if engine.dialect.name == "postgresql":
        statement = "ANALYZE trade_statistic, trade_statistic_partner, citation"
    with engine.begin() as connection:
        connection.exec_driver_sql(statement)


def load(engine: Engine, count: int) -> None:
    """Everything in one transaction: the source, the rows, the version."""
    write = writer_for(engine)
    with engine.begin() as connection:
        take_write_lock(connection)
        tables = reflect(connection)
        countries = check_loadable(connection, tables)
        connection.execute(insert(tables.source), [SOURCE])
        for rows in batches(generate(count, countries), BATCH_SIZE):
            write(connection, tables, rows)
        bump_version(connection, tables)


# --- the command ---------------------------------------------------------------------------------


def row_count(value: str) -> int:
    count = int(value)
    if not 1 <= count <= MAX_ROWS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_ROWS}")
    return count


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a SQLAlchemy URL")
    parser.add_argument("--rows", type=row_count, required=True, help="how many rows to add")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    engine = make_engine(args.database_url)
    started = time.perf_counter()
    try:
        load(engine, args.rows)
    except Refused as refusal:
        print(f"generate_trades: refused: {refusal}", file=sys.stderr)
        return 2
    analyze(engine)
    engine.dispose()
    print(f"loaded {args.rows} trade rows in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
