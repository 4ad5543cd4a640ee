"""The dataset version as every request reads it: one single-row query, straight to the
driver, on a connection kept for it (see `VersionReader`)."""

import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.pool import PoolProxiedConnection

VERSION_QUERY = "SELECT version FROM dataset_version WHERE id = 1"

log = logging.getLogger("app.data.version")


class VersionReader:
    """The version of the data, read per request on one connection of its own.

    The query goes to the driver directly: it is the one statement a cached answer costs, so it
    skips the ORM. The connection is in autocommit mode, so each lookup sees the latest commit.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: PoolProxiedConnection | None = None
        self._lock = threading.Lock()
        self.lookups = 0

    def current(self) -> int | None:
        """The version; None while the database cannot be read or holds no data."""
        with self._lock:
            self.lookups += 1
            try:
                cursor = self._connect().cursor()
                try:
                    cursor.execute(VERSION_QUERY)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except self._engine.dialect.loaded_dbapi.Error:
                log.warning("dataset version unavailable: the database cannot be read")
                self._discard()
                return None
            return None if row is None else int(row[0])

    def _connect(self) -> PoolProxiedConnection:
        if self._connection is None:
            connection = self._engine.raw_connection()
            connection.rollback()
            if self._engine.dialect.name == "postgresql":
                # A connection just opened has its driver's: typed optional for closed ones.
                connection.driver_connection.autocommit = True  # type: ignore[union-attr]
            self._connection = connection
        return self._connection

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.invalidate()  # closes it, logging rather than raising on failure
            self._connection = None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
