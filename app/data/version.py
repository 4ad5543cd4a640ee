"""The dataset version as every request reads it, and the version at which each collection last
changed: read on a connection kept for it, and read again only when the database says that
something may have changed (see `VersionReader`)."""

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

from app.data.registry import COLLECTIONS

# What every write NOTIFYs on PostgreSQL as it commits (`app.data.notifier.notify_writers`).
CHANNEL = "summit_dataset_changes"

log = logging.getLogger("app.data.version")


def _state_query() -> str:
    """The version, then the last version of each collection's history (an index lookup
    each), in one statement."""
    last = ", ".join(
        f"(SELECT max(version) FROM entity_version WHERE collection = '{c.name}')"
        for c in COLLECTIONS
    )
    return f"SELECT version, {last} FROM dataset_version WHERE id = 1"


STATE_QUERY = _state_query()


@dataclass(frozen=True)
class DataState:
    """The dataset version, and for each collection the version of its last change (0 for
    one never changed): an answer that reads some collections only is the same as long as
    theirs are."""

    version: int
    collections: Mapping[str, int]
    # What `version_of` found, by the set it was asked about: it is asked per request.
    _found: dict[frozenset[str], int] = field(default_factory=dict, compare=False, repr=False)

    def version_of(self, collections: frozenset[str] | None) -> int:
        """The last version that changed any of `collections` (None: any collection)."""
        if collections is None:
            return self.version
        found = self._found.get(collections)
        if found is None:
            found = max((self.collections.get(name, 0) for name in collections), default=0)
            self._found[collections] = found
        return found


class VersionReader:
    """The state of the data, as of the last change the database has told of.

    It is read again only when it may have moved: on SQLite when `PRAGMA data_version` (which
    moves with every commit another connection makes, in any process) has moved; on PostgreSQL
    when a NOTIFY has come on this connection, which LISTENs (every write sends one as it
    commits), and at the latest `safety_seconds` after the last read, in case one was lost.
    A write through this process marks it stale at once (`invalidate`), so it never waits for
    its own notification. Where the database cannot say (its connection fails), every call
    reads it. Statements go to the driver directly: this is what a cached answer costs.
    """

    def __init__(self, engine: Engine, *, safety_seconds: float = 5.0) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._connection: PoolProxiedConnection | None = None
        self._pragma: Any = None  # the cursor `PRAGMA data_version` runs on
        self._lock = threading.Lock()
        self._state: DataState | None = None
        self._marker: object = None  # what the database said when the state was read
        self._notified = 0  # notifications come on PostgreSQL
        self._read_at = 0.0
        self.safety_seconds = safety_seconds
        self.lookups = 0  # reads of the state itself

    def current(self) -> int | None:
        """The version; None while the database cannot be read or holds no data."""
        state = self.state()
        return None if state is None else state.version

    def state(self) -> DataState | None:
        """The state of the data; None while the database cannot be read or holds none."""
        with self._lock:
            try:
                connection = self._connect()
                marker = self._change_marker(connection)
                if self._state is None or marker != self._marker or self._stale():
                    self._state = self._read(connection)
                    self._marker = marker
            except self._engine.dialect.loaded_dbapi.Error:
                log.warning("dataset version unavailable: the database cannot be read")
                self._discard()
                return None
            return self._state

    def invalidate(self) -> None:
        """This process has written: the next call reads the state again."""
        with self._lock:
            self._state = None

    def _stale(self) -> bool:
        return self._postgres and time.monotonic() - self._read_at > self.safety_seconds

    def _change_marker(self, connection: PoolProxiedConnection) -> object:
        """Something that differs after any commit since the last call (PostgreSQL: the count
        of notifications come), without a query where the database allows."""
        if self._postgres:
            pgconn = connection.driver_connection.pgconn  # type: ignore[union-attr]
            pgconn.consume_input()  # what has come on the socket, without waiting
            while pgconn.notifies() is not None:
                self._notified += 1
            return self._notified
        if self._pragma is None:  # one cursor, kept: this runs per request
            self._pragma = connection.cursor()
        self._pragma.execute("PRAGMA data_version")
        row = self._pragma.fetchone()
        return None if row is None else row[0]

    def _read(self, connection: PoolProxiedConnection) -> DataState | None:
        self.lookups += 1
        self._read_at = time.monotonic()
        cursor = connection.cursor()
        try:
            cursor.execute(STATE_QUERY)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        changed = {c.name: int(v) for c, v in zip(COLLECTIONS, row[1:], strict=True) if v}
        return DataState(int(row[0]), changed)

    def _connect(self) -> PoolProxiedConnection:
        if self._connection is None:
            connection = self._engine.raw_connection()
            connection.rollback()
            if self._postgres:
                # A connection just opened has its driver's: typed optional for closed ones.
                connection.driver_connection.autocommit = True  # type: ignore[union-attr]
                # The driver takes notifications in while it runs a statement (this one, the
                # state's): they count as those found on the socket do.
                connection.driver_connection.add_notify_handler(  # type: ignore[union-attr]
                    self._count_notification
                )
                cursor = connection.cursor()
                cursor.execute(f"LISTEN {CHANNEL}")
                cursor.close()
            self._connection = connection
            self._state = None  # whatever came before this connection listened is unknown
        return self._connection

    def _count_notification(self, _notification: object) -> None:
        self._notified += 1

    def _discard(self) -> None:
        self._state = None
        self._pragma = None
        if self._connection is not None:
            self._connection.invalidate()  # closes it, logging rather than raising on failure
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._pragma = None
            if self._connection is not None:
                self._connection.close()
                self._connection = None
