"""The database engine and short-lived sessions.

Routes are `async def` and open a session only for the few milliseconds a query takes, never across
an `await`. One event loop therefore holds at most one connection at a time, so the pool cannot be
exhausted however many requests are in flight (the failure of fastapi/fastapi#3205).
"""

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Literal

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session, create_engine

SQLITE_BEGIN = "sqlite_begin"
WRITE_LOCK_KEY = 20261127  # the PostgreSQL advisory lock that writers take


def make_engine(database_url: str, *, busy_timeout_ms: int = 5000) -> Engine:
    """An engine for `database_url`; SQLite gets foreign keys, WAL and a busy timeout."""
    if not database_url.startswith("sqlite"):
        # One snapshot per read transaction, so a read never sees half of a write.
        return create_engine(database_url, pool_pre_ping=True, isolation_level="REPEATABLE READ")
    engine = create_engine(database_url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # The driver's own transaction handling would begin only before a write, so that the
        # reads of one request could see two states of the data. SQLAlchemy begins instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        # A read sees one snapshot; a write takes the write lock at once (IMMEDIATE), so that
        # two writers queue on busy_timeout rather than fail on upgrading a read lock.
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextmanager
def session_scope(engine: Engine, *, write: bool = False) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error. `write` takes the
    database's write lock at the start (SQLite), so that concurrent writers queue."""
    bind = engine
    if write and engine.dialect.name == "sqlite":
        bind = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
    elif write:
        bind = engine.execution_options(isolation_level="READ COMMITTED")
    with Session(bind, expire_on_commit=False) as session:
        try:
            if write and engine.dialect.name == "postgresql":
                # Writers queue on one lock for the transaction, as on SQLite.
                session.connection().exec_driver_sql(
                    f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"
                )
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# PostgreSQL's undefined_table and undefined_column; SQLite says it in words.
SCHEMA_MISSING_SQLSTATES = frozenset({"42P01", "42703"})
SCHEMA_MISSING_MESSAGES = ("no such table", "no such column")
Unavailability = Literal["unmigrated", "unreachable"]


def why_unavailable(error: DBAPIError) -> Unavailability | None:
    """Why the database could not answer, when it is a state a retry may get past: `unmigrated`
    (a table or column the query needs is missing) or `unreachable` (down, locked past the busy
    timeout, the connection lost); None when the error is a fault of the query itself."""
    driver_error = error.orig
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate in SCHEMA_MISSING_SQLSTATES or str(driver_error).startswith(
        SCHEMA_MISSING_MESSAGES
    ):
        return "unmigrated"
    if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
        return "unreachable"
    return None


class Database:
    """The service's handle on its database: an engine and short transactions on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        return session_scope(self.engine, write=write)
