"""Conditional requests and the read cache, both keyed by the version of what an answer reads.

Every read of data asks for the state of the data once (`app.data.version`): the dataset
version and the version at which each collection last changed, read again only when the
database says something changed, so that a write through any process is seen by every process
at once. An answer reads some collections (`answer_reads`: a list its own, those its items
name and embed) or all of them (the export, search, the feed); its version is the last that
changed any of those. The ETag is derived from that version and the request (path, query, the
representation asked for), so it is known before the route runs: a matching `If-None-Match` is
answered without running the route (a cross-origin one once the CORS headers for its kind of
origin are known), and a whole answer made earlier for the same request is sent again while
its version holds. A write to one collection leaves the answers that do not read it cached.
An answer `as_of` a version the data has reached never changes: its ETag names that version,
and its Cache-Control says it is immutable.
"""

import functools
import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import API_PREFIX
from app.data.registry import BY_NAME, COLLECTIONS, reads_of
from app.data.version import DataState
from app.middleware.asgi import HTTPMiddleware

DATA_CACHE_CONTROL = "public, max-age=60"
# An answer `as_of` a version the data has reached: the data as it stood then never changes.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
AS_OF = re.compile(rb"(?:^|&)as_of=([0-9]{1,10})(?:&|$)")
DOCS_CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
VARY_NAMES = ("Accept", "Accept-Encoding", "Origin")
VARY = ", ".join(VARY_NAMES)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestKey(NamedTuple):
    """What an answer depends on besides the version."""

    path: str
    query: bytes
    accept: str
    accepts_gzip: bool
    # What CORS makes of the Origin header (see `OriginClasses`): its headers depend on it.
    origin_class: str


class OriginClasses:
    """Sorts request origins by the CORS headers they get: none without an Origin header, the
    same for every origin where all are allowed, the origin's own where it is listed, none
    (but `Vary: Origin`) where it is not."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self._allowed = frozenset(allowed)

    def of(self, origin: str) -> str:
        if not origin:
            return ""
        if "*" in self._allowed:
            return "*"
        return origin if origin in self._allowed else "refused"


# What a 304 carries of the full answer's headers (RFC 9110, 15.4.5), and CORS's: a script on
# another origin that revalidates is shown the 304 only if CORS allows it.
NOT_MODIFIED_HEADERS = frozenset(
    {b"etag", b"cache-control", b"vary", b"x-dataset-version", b"content-location", b"expires"}
)


@dataclass(frozen=True)
class CachedResponse:
    etag: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    not_modified_headers: list[tuple[bytes, bytes]]  # those of a 304 in its place


# An answer may take up to this share of the cache's bytes: one answer cannot push out the rest.
ANSWER_SHARE_OF_CACHE = 8


class ResponseCache:
    """Whole answers by request, each for the version of what it reads; least recently used go
    first once there are more than `max_entries` or their bodies hold more than `max_bytes`.
    An answer larger than `max_answer_bytes` is not kept."""

    def __init__(self, *, max_entries: int = 2048, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_answer_bytes = max_bytes // ANSWER_SHARE_OF_CACHE if max_entries > 0 else 0
        self._entries: OrderedDict[RequestKey, tuple[int, CachedResponse]] = OrderedDict()
        self.body_bytes = 0  # of the answers kept

    def get(self, version: int, key: RequestKey) -> CachedResponse | None:
        """The answer kept for `key`, if made at `version` of what it reads."""
        found = self._entries.get(key)
        if found is None:
            return None
        made_at, entry = found
        if made_at != version:  # what it reads has changed since
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, version: int, key: RequestKey, entry: CachedResponse) -> None:
        if self.max_answer_bytes <= 0 or len(entry.body) > self.max_answer_bytes:
            return
        self._drop(key)
        self._entries[key] = (version, entry)
        self.body_bytes += len(entry.body)
        while len(self._entries) > self.max_entries or self.body_bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.body_bytes -= len(evicted.body)

    def _drop(self, key: RequestKey) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self.body_bytes -= len(found[1].body)

    def __len__(self) -> int:
        return len(self._entries)


def request_key(scope: Scope, headers: dict[bytes, bytes], origins: OriginClasses) -> RequestKey:
    return RequestKey(
        path=scope["path"],
        query=scope["query_string"],
        accept=headers.get(b"accept", b"").decode("latin-1"),
        accepts_gzip=b"gzip" in headers.get(b"accept-encoding", b"").lower(),
        origin_class=origins.of(headers.get(b"origin", b"").decode("latin-1")),
    )


def as_of(key: RequestKey, version: int) -> int | None:
    """The past version a request asks its answer as of (`as_of`), if the data has reached
    it: that answer is the same at every later version."""
    found = AS_OF.search(key.query)
    return int(found[1]) if found is not None and int(found[1]) <= version else None


# The pages for people that show the data (`/summits/2`, `/timeline`), as the JSON does.
PAGE_ROOTS = frozenset({c.name for c in COLLECTIONS} | {"timeline", "search"})


def shows_data(path: str) -> bool:
    """Whether an answer at `path` depends on the data: the JSON API, `/` and the pages."""
    return path.startswith(API_PREFIX) or path == "/" or path.split("/", 2)[1] in PAGE_ROOTS


# What each collection's answers read, worked out once.
READS = {collection.name: reads_of(collection) for collection in COLLECTIONS}


@functools.lru_cache(maxsize=4096)  # asked per request; clients choose paths: bounded
def answer_reads(path: str) -> frozenset[str] | None:
    """The collections an answer at `path` reads (None: every one). A collection's list and
    an entity's detail, in JSON or as a page, read what `reads_of` says; an entity's history,
    its collection's alone; everything else (the export, the feed, search, the timeline, a
    source's annotations and its page, `/`) reads them all."""
    parts = path.removeprefix(API_PREFIX).strip("/").split("/")
    collection = BY_NAME.get(parts[0])
    if collection is None or len(parts) > 3:
        return None
    if len(parts) == 3:
        return frozenset({collection.name}) if parts[2] == "history" else None
    if len(parts) == 2 and collection.quoted and not path.startswith(API_PREFIX):
        return None  # a source's page marks each passage quoted, by whatever quotes it
    return READS[collection.name]


def entity_tag(key: RequestKey, version: int, *, current: int, build: str) -> str:
    """A strong ETag: the same `version` of what an answer reads and the same request always
    get the same bytes; an answer as of a past version, the same bytes at every version since
    (the `current` one included), from the same `build` of the service (its schema: one that
    shows the data otherwise makes other bytes). The Origin changes only CORS headers, not the
    representation, so it is left out."""
    gzip = "gzip" if key.accepts_gzip else "identity"
    request = "\n".join([key.path, key.query.decode("latin-1"), key.accept, gzip, build])
    digest = hashlib.blake2b(request.encode(), digest_size=12).hexdigest()
    past = as_of(key, current)
    return f'"v{version}-{digest}"' if past is None else f'"as-of-{past}-{digest}"'


def cache_control(key: RequestKey, version: int | None) -> str:
    """How long a data answer of this request may be kept."""
    final = version is not None and as_of(key, version) is not None
    return IMMUTABLE_CACHE_CONTROL if final else DATA_CACHE_CONTROL


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match uses."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags


def _merge_vary(headers: MutableHeaders) -> None:
    """Add ours to what inner layers named (CORS names Origin), each name once."""
    names = [n.strip() for value in headers.getlist("vary") for n in value.split(",")]
    del headers["vary"]
    headers["Vary"] = ", ".join(dict.fromkeys([*VARY_NAMES, *filter(None, names)]))


class ConditionalGetMiddleware(HTTPMiddleware):
    """ETag, 304, Cache-Control, Vary and X-Dataset-Version, and the read cache.

    It runs outside the security headers and CORS, so that an answer is kept with every header
    it went out with; only the request id (added further out) differs between two requests.
    A cached answer or a 304 therefore skips every inner layer and the route. A 304 to a
    cross-origin request carries the CORS headers a full answer to that kind of origin had;
    until one has been seen, the route runs and its answer is turned into the 304.
    """

    def __init__(self, app: ASGIApp, *, cors_origins: Sequence[str]) -> None:
        super().__init__(app)
        self._origins = OriginClasses(cors_origins)
        # The CORS headers of data answers, by origin class: they do not depend on the path.
        self._cors_headers: dict[str, list[tuple[bytes, bytes]]] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if not shows_data(path) or method == "OPTIONS":  # docs, health, assets, preflights
            await self.app(scope, receive, self._with_cache_control(scope, send))
            return
        headers = {name: value for name, value in reversed(scope["headers"])}  # first wins
        # An event stream is never the same twice: no ETag, never kept.
        stream = b"text/event-stream" in headers.get(b"accept", b"").lower()
        is_read = method in ("GET", "HEAD") and not headers.get(b"authorization") and not stream
        state = scope["app"].state
        cache: ResponseCache = state.response_cache
        data: DataState | None = state.dataset_version.state() if is_read else None
        version = None if data is None else data.version
        # The version of what this answer reads: it holds while no write touches that.
        answer_version = None if data is None else data.version_of(answer_reads(path))
        key = request_key(scope, headers, self._origins)
        etag: str | None = None
        not_modified = False
        if version is not None and answer_version is not None:
            cached = cache.get(answer_version, key)
            build = state.schema_head
            etag = (
                cached.etag
                if cached is not None
                else entity_tag(key, answer_version, current=version, build=build)
            )
            if_none_match = headers.get(b"if-none-match")
            not_modified = if_none_match is not None and _matches(
                if_none_match.decode("latin-1"), etag
            )
            cors = self._cors_headers.get(key.origin_class) if key.origin_class else []
            if not_modified and (cached is not None or cors is not None):
                await self._not_modified(send, etag, version, key, cached, cors or [])
                return
            if cached is not None:
                await self._replay(send, cached, version, with_body=method == "GET")
                return

        # The status and headers of an answer that may be kept, until its body comes.
        start: tuple[int, list[tuple[bytes, bytes]]] | None = None
        made_304 = False  # a full answer turned into the 304 the request asked for

        async def send_with_cache_headers(message: Message) -> None:
            nonlocal start, made_304
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                ok = message["status"] == 200 and etag is not None
                _merge_vary(headers)
                if method in WRITE_METHODS and message["status"] < 400:  # it has written
                    state.dataset_version.invalidate()
                # A write has moved the version by now: answer with the one it made.
                shown = version if is_read else state.dataset_version.current()
                if shown is not None:
                    headers["X-Dataset-Version"] = str(shown)
                if ok and etag is not None:  # (ok says so; the type checker cannot see it)
                    headers["ETag"] = etag
                headers["Cache-Control"] = cache_control(key, version) if ok else NO_STORE
                if ok and key.origin_class:
                    self._cors_headers[key.origin_class] = [
                        h for h in message["headers"] if h[0].startswith(b"access-control-")
                    ]
                if ok and method == "GET" and cache.max_answer_bytes > 0:
                    # A copy now: the outer layers add per-request headers to the list.
                    start = (message["status"], list(message["headers"]))
                if ok and not_modified:
                    headers_304 = _not_modified_headers(message["headers"])
                    message = {"type": "http.response.start", "status": 304, "headers": headers_304}
                    made_304 = True
            elif message["type"] == "http.response.body":
                # Only an answer sent whole in one message is kept. A streamed one (an export)
                # is written as it is made: holding it would cost the memory streaming saves.
                whole = not message.get("more_body", False)
                # A start is kept only for a read with an ETag, so of a version too.
                if start is not None and whole and etag is not None and answer_version is not None:
                    status, start_headers = start
                    entry = CachedResponse(
                        etag,
                        status,
                        start_headers,
                        message.get("body", b""),
                        _not_modified_headers(start_headers),
                    )
                    cache.put(answer_version, key, entry)
                start = None
                if made_304:
                    if message.get("more_body", False):
                        return
                    message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app(scope, receive, send_with_cache_headers)

    @staticmethod
    def _with_cache_control(scope: Scope, send: Send) -> Send:
        """Docs: cached for a while if they say nothing themselves; health and preflights, never."""

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    ok = message["status"] == 200 and scope["method"] in ("GET", "HEAD")
                    docs = ok and not scope["path"].startswith(("/healthz", "/readyz"))
                    headers["Cache-Control"] = DOCS_CACHE_CONTROL if docs else NO_STORE
            await send(message)

        return send_with_cache_control

    @staticmethod
    async def _replay(send: Send, cached: CachedResponse, version: int, *, with_body: bool) -> None:
        headers = _at_version(cached.headers, version)  # outer layers add theirs to this list
        await send({"type": "http.response.start", "status": cached.status, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body if with_body else b""})

    @staticmethod
    async def _not_modified(
        send: Send,
        etag: str,
        version: int,
        key: RequestKey,
        cached: CachedResponse | None,
        cors: list[tuple[bytes, bytes]],
    ) -> None:
        if cached is not None:
            # Outer layers add theirs to this list.
            headers = _at_version(cached.not_modified_headers, version)
        else:
            headers = [
                (b"etag", etag.encode()),
                (b"cache-control", cache_control(key, version).encode()),
                (b"vary", VARY.encode()),
                (b"x-dataset-version", str(version).encode()),
                *cors,
            ]
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _not_modified_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [
        (name, value)
        for name, value in headers
        if name in NOT_MODIFIED_HEADERS or name.startswith(b"access-control-")
    ]


def _at_version(headers: list[tuple[bytes, bytes]], version: int) -> list[tuple[bytes, bytes]]:
    """A kept answer's headers, saying the dataset version it is sent at: the data it shows
    holds at that version too, or it would not be sent."""
    shown = (b"x-dataset-version", str(version).encode())
    return [shown if name == b"x-dataset-version" else (name, value) for name, value in headers]
