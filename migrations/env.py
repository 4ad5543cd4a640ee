"""Alembic's entry point: migrations run against the app's own engine and metadata."""

from alembic import context
from sqlalchemy import Connection

from app.config import get_settings
from app.data.engine import SQLITE_BEGIN, make_engine
from app.data.tables import metadata

# Tables that the migrations create but the models do not describe: FTS5's virtual table and
# the shadow tables SQLite keeps for it.
DERIVED_TABLE_PREFIX = "search_index"
MIGRATION_LOCK_KEY = 20261128  # the PostgreSQL advisory lock migrations take
MIGRATION_WAIT_MS = 10 * 60 * 1000


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    return not (type_ == "table" and name and name.startswith(DERIVED_TABLE_PREFIX))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _switch_foreign_keys(connection: Connection, *, on: bool) -> None:
    """SQLite's foreign keys, switched outside any transaction (inside one it ignores the
    switch). Off while migrating: a migration that rebuilds a table (SQLite's way to change a
    column) drops the old one, and with foreign keys on that drop would first delete every
    row, cascading to the rows that belong to them (a trade figure's partners)."""
    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}"
    )


def _check_foreign_keys(connection: Connection) -> None:
    """With foreign keys off, nothing checked them: check every reference before committing."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration would leave broken references: {broken[:10]}")


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.attributes.get("database_url") or get_settings().database_url
    # Every replica may run the migrations as it starts: one at a time, so that the first
    # migrates and the rest find the schema at head and do nothing. SQLite queues them on its
    # write lock (taken at BEGIN IMMEDIATE), PostgreSQL on an advisory lock; both wait long.
    engine = make_engine(url, busy_timeout_ms=MIGRATION_WAIT_MS)
    if engine.dialect.name == "postgresql":
        # Each statement after the lock must see what the replica before this one committed.
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    else:
        engine = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    try:
        # One transaction, begun here (so that the lock is its first statement) and committed
        # here: Alembic leaves a transaction it did not begin to whoever began it.
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _switch_foreign_keys(connection, on=False)
            with connection.begin():
                if not sqlite:
                    connection.exec_driver_sql(
                        f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
                    )
                _configure(connection)
                context.run_migrations()
                if sqlite:
                    _check_foreign_keys(connection)
            if sqlite:
                _switch_foreign_keys(connection, on=True)
    finally:
        engine.dispose()


run_migrations()
