"""Conditional requests and the read cache, both keyed by the dataset version.

Every read of data looks the version up once, with one single-row query on a connection kept for
the purpose, so that a write through any process is seen by every process at once. The ETag is
derived from that version and the request (path, query, the representation asked for), so it is
known before the route runs: a matching `If-None-Match` is answered at once, and a whole answer
made earlier for the same ETag is sent again without running the route. A write moves the
version, which empties the cache.
"""

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from app.asgi import HTTPMiddleware, header
from app.config import API_PREFIX

DATA_CACHE_CONTROL = "public, max-age=60"
DOCS_CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
VARY = "Accept, Accept-Encoding"
VERSION_QUERY = "SELECT version FROM dataset_version WHERE id = 1"

log = logging.getLogger("app.caching")


class DatasetVersion:
    """The version of the data, read per request on one connection of its own.

    The query goes to the driver directly: it is the one statement a cached answer costs, so it
    skips the ORM. The connection is in autocommit mode, so each lookup sees the latest commit.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection = None  # type: ignore[var-annotated]
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

    def _connect(self):  # type: ignore[no-untyped-def]
        if self._connection is None:
            connection = self._engine.raw_connection()
            connection.rollback()
            if self._engine.dialect.name == "postgresql":
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


@dataclass(frozen=True)
class CachedResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class ResponseCache:
    """Whole answers by ETag, for the current dataset version only; least recently used go
    first. Answers larger than `max_body_bytes` (exports) are not kept."""

    def __init__(self, *, max_entries: int = 2048, max_body_bytes: int = 512 * 1024) -> None:
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        self._version: int | None = None
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()

    def get(self, version: int, etag: str) -> CachedResponse | None:
        if version != self._version:
            self._entries.clear()
            self._version = version
            return None
        entry = self._entries.get(etag)
        if entry is not None:
            self._entries.move_to_end(etag)
        return entry

    def put(self, version: int, etag: str, entry: CachedResponse) -> None:
        if version != self._version or self.max_entries <= 0:
            return  # made for a version that has moved on since
        self._entries[etag] = entry
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def entity_tag(scope: Scope, version: int) -> str:
    """A strong ETag: the same version and request always get the same bytes."""
    accepts_gzip = "gzip" in header(scope, b"accept-encoding").lower()
    request = "\n".join(
        [
            scope["path"],
            scope["query_string"].decode("latin-1"),
            header(scope, b"accept"),
            "gzip" if accepts_gzip else "identity",
        ]
    )
    digest = hashlib.blake2b(request.encode(), digest_size=12).hexdigest()
    return f'"v{version}-{digest}"'


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match uses."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags


class ConditionalGetMiddleware(HTTPMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        is_data = path.startswith(API_PREFIX)
        keyed = bool(header(scope, b"authorization"))
        state = scope["app"].state
        version = state.dataset_version.current() if is_data else None
        etag = (
            entity_tag(scope, version)
            if version is not None and method == "GET" and not keyed
            else None
        )
        if etag and version is not None:
            if _matches(header(scope, b"if-none-match"), etag):
                await self._not_modified(send, etag, version)
                return
            cached = state.response_cache.get(version, etag)
            if cached is not None:
                await self._replay(send, cached)
                return

        cache: ResponseCache = state.response_cache
        kept: list[bytes] | None = None  # the body so far, while the answer may be cached
        start: tuple[int, list[tuple[bytes, bytes]]] | None = None

        async def send_with_cache_headers(message: Message) -> None:
            nonlocal kept, start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                ok = message["status"] == 200 and method == "GET" and not keyed
                if is_data:
                    headers["Vary"] = VARY
                    # A write has moved the version by now: answer with the one it made.
                    shown = version if method == "GET" else state.dataset_version.current()
                    if shown is not None:
                        headers["X-Dataset-Version"] = str(shown)
                    if ok and etag:
                        headers["ETag"] = etag
                        # A copy now: the outer layers add per-request headers to the list.
                        kept, start = [], (message["status"], list(message["headers"]))
                    headers["Cache-Control"] = DATA_CACHE_CONTROL if ok else NO_STORE
                elif "cache-control" not in headers:
                    docs = ok and not path.startswith(("/healthz", "/readyz"))
                    headers["Cache-Control"] = DOCS_CACHE_CONTROL if docs else NO_STORE
            elif message["type"] == "http.response.body" and kept is not None:
                kept.append(message.get("body", b""))
                if sum(map(len, kept)) > cache.max_body_bytes:
                    kept = None
                elif not message.get("more_body", False) and start is not None:
                    entry = CachedResponse(*start, b"".join(kept))
                    cache.put(version, etag, entry)  # type: ignore[arg-type]
            await send(message)

        await self.app(scope, receive, send_with_cache_headers)

    @staticmethod
    async def _replay(send: Send, cached: CachedResponse) -> None:
        headers = list(cached.headers)  # outer layers add theirs to this list
        await send({"type": "http.response.start", "status": cached.status, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})

    @staticmethod
    async def _not_modified(send: Send, etag: str, version: int) -> None:
        headers = [
            (b"etag", etag.encode()),
            (b"cache-control", DATA_CACHE_CONTROL.encode()),
            (b"vary", VARY.encode()),
            (b"x-dataset-version", str(version).encode()),
        ]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
