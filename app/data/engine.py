"""The database engine and short-lived sessions.

Routes are `async def` and open a session only for the few milliseconds a query takes, never across
an `await`. One event loop therefore holds at most one connection at a time, so the pool cannot be
exhausted however many requests are in flight (the failure of fastapi/fastapi#3205).
"""

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Literal

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

SQLITE_BEGIN = "sqlite_begin"
# The SQLite function that folds case in every script (`app.data.conditions` uses it).
SQLITE_LOWER = "unicode_lower"
WRITE_LOCK_KEY = 20261127  # the PostgreSQL advisory lock that writers take
DEADLINE = "query_deadline"
WRITES = "writes"  # in a session's `info`: whether it was opened to write
PROGRESS_STEPS = 10_000  # SQLite virtual-machine steps between looks at the clock


class _Deadline:
    """When the statement running on one SQLite connection must stop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = math.inf

    def start(self) -> None:
        self.at = time.monotonic() + self.seconds

    def passed(self) -> bool:
        return time.monotonic() > self.at


def make_engine(
    database_url: str, *, busy_timeout_ms: int = 5000, query_timeout_ms: int | None = None
) -> Engine:
    """An engine for `database_url`; SQLite gets foreign keys, WAL and a busy timeout. With
    `query_timeout_ms`, no statement runs longer: PostgreSQL's `statement_timeout`, and on
    SQLite a progress handler that interrupts the statement past its deadline."""
    if not database_url.startswith("sqlite"):
        options = f"-c statement_timeout={int(query_timeout_ms)}" if query_timeout_ms else ""
        # One snapshot per read transaction, so a read never sees half of a write.
        return create_engine(
            database_url,
            pool_pre_ping=True,
            isolation_level="REPEATABLE READ",
            connect_args={"options": options} if options else {},
        )
    engine = create_engine(database_url, connect_args={"check_same_thread": False})
    if query_timeout_ms:
        _bound_sqlite_statements(engine, query_timeout_ms / 1000)

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
        # Case folding in every script, as PostgreSQL's lower(): SQLite's folds ASCII only.
        dbapi_connection.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        # A read sees one snapshot; a write takes the write lock at once (IMMEDIATE), so that
        # two writers queue on busy_timeout rather than fail on upgrading a read lock.
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _bound_sqlite_statements(engine: Engine, seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _install(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        deadline = _Deadline(seconds)
        record.info[DEADLINE] = deadline
        # Returning true interrupts the statement: sqlite3 raises OperationalError "interrupted",
        # and the connection stays fit for the next one.
        dbapi_connection.set_progress_handler(deadline.passed, PROGRESS_STEPS)

    @event.listens_for(engine, "before_cursor_execute")
    def _start(connection: Connection, *_: object) -> None:
        deadline = connection.info.get(DEADLINE)
        if deadline is not None:
            deadline.start()


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
        session.info[WRITES] = write
        try:
            if write and engine.dialect.name == "postgresql":
                # Writers queue on one lock for the transaction, as on SQLite; waiting in that
                # queue is not a statement running long, so the timeout is off while it lasts.
                connection = session.connection()
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
                connection.exec_driver_sql("SET LOCAL statement_timeout TO DEFAULT")
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# PostgreSQL's undefined_table and undefined_column; SQLite says it in words.
SCHEMA_MISSING_SQLSTATES = frozenset({"42P01", "42703"})
SCHEMA_MISSING_MESSAGES = ("no such table", "no such column")
QUERY_CANCELED_SQLSTATE = "57014"  # PostgreSQL's, on statement_timeout
Unavailability = Literal["unmigrated", "unreachable", "timed_out"]


def why_unavailable(error: DBAPIError) -> Unavailability | None:
    """Why the database could not answer, when it is a state a retry may get past: `unmigrated`
    (a table or column the query needs is missing), `timed_out` (past `query_timeout_ms`) or
    `unreachable` (down, locked past the busy timeout, the connection lost); None when the
    error is a fault of the query itself."""
    driver_error = error.orig
    sqlstate = getattr(driver_error, "sqlstate", None)
    if sqlstate in SCHEMA_MISSING_SQLSTATES or str(driver_error).startswith(
        SCHEMA_MISSING_MESSAGES
    ):
        return "unmigrated"
    if sqlstate == QUERY_CANCELED_SQLSTATE or str(driver_error) == "interrupted":
        return "timed_out"
    # An InterfaceError alone is a misuse of the driver (a bug), not the database's state.
    if isinstance(error, OperationalError) or error.connection_invalidated:
        return "unreachable"
    return None


class Database:
    """The service's handle on its database: an engine and short transactions on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        return session_scope(self.engine, write=write)
