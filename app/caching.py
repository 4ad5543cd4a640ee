"""Conditional requests: a strong ETag on every GET of data, 304 without touching the database.

The ETag is derived from the dataset version and the request (path, query, the representation
asked for), so it is known before the route runs: a matching `If-None-Match` is answered at
once. The version lives in memory (`DatasetVersion`): a write by this process moves it at once,
and it is read again from the database at most once a second, so that a change made by another
process (the seed loader, another worker) is seen within that second.
"""

import hashlib
import logging
import math
import time

from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from app.asgi import HTTPMiddleware, header
from app.config import API_PREFIX
from app.db import Database
from app.queries import dataset_version

DATA_CACHE_CONTROL = "public, max-age=60"
DOCS_CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
VARY = "Accept, Accept-Encoding"

log = logging.getLogger("app.caching")


class DatasetVersion:
    """The version of the data this process serves, without a query per request."""

    def __init__(self, database: Database, *, refresh_seconds: float = 1.0) -> None:
        self._database = database
        self._refresh_seconds = refresh_seconds
        self._value: int | None = None
        self._read_at = -math.inf

    def current(self) -> int | None:
        """The version; None while the database cannot be read or holds no data."""
        now = time.monotonic()
        if now - self._read_at >= self._refresh_seconds:
            self._read_at = now
            try:
                with self._database.session() as session:
                    self._value = dataset_version(session)
            except SQLAlchemyError:
                log.warning("dataset version unavailable: the database cannot be read")
                self._value = None
        return self._value

    def moved_to(self, version: int) -> None:
        """Record a write this process made: its answers change at once."""
        self._value = version
        self._read_at = time.monotonic()


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
        tracker = scope["app"].state.dataset_version
        version = tracker.current() if is_data else None
        etag = (
            entity_tag(scope, version)
            if version is not None and method == "GET" and not keyed
            else None
        )
        if etag and _matches(header(scope, b"if-none-match"), etag):
            await self._not_modified(send, etag, version)
            return

        async def send_with_cache_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                ok = message["status"] == 200 and method == "GET" and not keyed
                if is_data:
                    headers["Vary"] = VARY
                    # A write has moved the version by now: answer with the one it made.
                    shown = version if method == "GET" else tracker.current()
                    if shown is not None:
                        headers["X-Dataset-Version"] = str(shown)
                    if ok and etag:
                        headers["ETag"] = etag
                    headers["Cache-Control"] = DATA_CACHE_CONTROL if ok else NO_STORE
                elif "cache-control" not in headers:
                    docs = ok and not path.startswith(("/healthz", "/readyz"))
                    headers["Cache-Control"] = DOCS_CACHE_CONTROL if docs else NO_STORE
            await send(message)

        await self.app(scope, receive, send_with_cache_headers)

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
