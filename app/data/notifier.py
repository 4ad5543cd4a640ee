"""Telling open change streams that the data has moved, whichever process moved it.

One watcher per process, running while anyone listens: on PostgreSQL it LISTENs for the
NOTIFY every writer sends as it commits (`notify_writers`), and reads the version every
`safety_seconds` besides, in case a notification was lost with its connection; on SQLite, which
has no such thing, it reads the dataset version every `poll_seconds`. Either way it wakes every
listener waiting for a version past the one it has. A listener holds no database connection
while it waits: the watcher's are the only ones, shared by all.
"""

import asyncio
import logging

import psycopg
from sqlalchemy import Engine
from sqlmodel import Session

from app.data.version import CHANNEL, VersionReader

log = logging.getLogger("app.data.notifier")


def notify_writers(session: Session) -> None:
    """Have PostgreSQL tell every listener, when this transaction commits, that the data moved
    (several in one transaction arrive as one)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql(f"NOTIFY {CHANNEL}")


class ChangeNotifier:
    def __init__(
        self,
        engine: Engine,
        versions: VersionReader,
        *,
        poll_seconds: float,
        safety_seconds: float,
    ) -> None:
        self._engine = engine
        self._versions = versions
        self.poll_seconds = poll_seconds
        self.safety_seconds = safety_seconds
        self.listeners = 0
        self.version: int | None = None  # as last read; None until the watcher has read it
        self.closed = False
        self._changed: asyncio.Event | None = None
        self._watcher: asyncio.Task[None] | None = None

    def add_listener(self) -> None:
        """One more listener: changes are watched for from now on, until `remove_listener`
        has been called for each."""
        self.listeners += 1
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())

    def remove_listener(self) -> None:
        self.listeners -= 1
        if self.listeners == 0 and self._watcher is not None:
            self._watcher.cancel()  # nobody to wake: no connection kept for nobody
            self._watcher = None

    async def wait_past(self, version: int, *, timeout: float) -> bool:
        """Wait until the data is past `version` (True), or `timeout` seconds, or `close`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.closed and (self.version is None or self.version <= version):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._event().wait(), remaining)
            except TimeoutError:
                return False
        return not self.closed

    def close(self) -> None:
        """Wake every listener for good (the process is stopping): `wait_past` answers False
        from now on."""
        self.closed = True
        self._wake()
        if self._watcher is not None:
            self._watcher.cancel()

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _wake(self) -> None:
        # Each wait holds the event of its time: set it, and the next waits get a new one.
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _refresh(self, *, notified: bool = False) -> None:
        if notified:  # the reader's own copy of the notification may not have come yet
            self._versions.invalidate()
        version = self._versions.current()
        if version is not None and version != self.version:
            self.version = version
            self._wake()

    async def _watch(self) -> None:
        while not self.closed:
            if self._engine.dialect.name == "postgresql":
                try:
                    await self._listen()
                except (psycopg.Error, OSError) as error:
                    log.warning("change notifications lost (%s); reading the version", error)
            self._refresh()
            await asyncio.sleep(self.poll_seconds)

    async def _listen(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        conninfo = url.render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            notified = False
            while not self.closed:
                self._refresh(notified=notified)  # after LISTEN: no change falls between
                notified = False
                async for _ in connection.notifies(timeout=self.safety_seconds, stop_after=1):
                    notified = True
