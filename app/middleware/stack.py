"""Cross-cutting HTTP behaviour, each a small pure ASGI middleware, installed in `install`.

Outermost first: request id, access log and metrics, conditional GET and the read cache (ETag,
304, Cache-Control, Vary, X-Dataset-Version), security headers, CORS, HEAD as GET, the write
gate, gzip. The read cache sits outside the security headers and CORS, and keeps an answer with
the headers they added (CORS's depend on the Origin, which is part of the cache's key), so that a
cached answer is replayed without running them.
Pure ASGI rather than `BaseHTTPMiddleware`, so that streamed responses stay streamed and each
layer costs little.
"""

import atexit
import contextlib
import itertools
import logging
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as quote
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Message, Receive, Scope, Send

from app.api.route_table import template_of
from app.config import ApiKey, Settings
from app.data.registry import BY_NAME
from app.middleware.asgi import HTTPMiddleware, header
from app.middleware.caching import ConditionalGetMiddleware
from app.middleware.metrics import UNMATCHED
from app.middleware.rate_limit import (
    RateLimitMiddleware,
    answer_rate_limited,
    limit_of,
    storage_of,
)
from app.middleware.write_gate import WriteGateMiddleware

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
# A client's request id is kept only if it is short and plain: it goes into logs and headers.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = logging.getLogger("app")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# The docs pages run Swagger UI's and ReDoc's scripts, served by this service itself.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc", "/static-offline-docs/")


# A request id made here: this process's random prefix and a count. Unique without asking the
# kernel for randomness per request (a system call each, as much as a cached answer costs).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTS = itertools.count()


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTS):016x}"


class RequestRecordMiddleware(HTTPMiddleware):
    """Gives every response an `X-Request-ID`, logs one JSON line per request and counts it in
    the metrics: one layer, because all three want the same start time and status."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        offered = header(scope, REQUEST_ID)
        sane = offered and SANE_REQUEST_ID.fullmatch(offered)
        request_id = offered if sane else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client sees if the app fails before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), (REQUEST_ID, request_id.encode())]
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            app = scope["app"]
            route = template_of(app, scope["path"]) or UNMATCHED
            app.state.metrics.observe(scope["method"], route, status, seconds)
            # By hand rather than json.dumps: the id is plain, only method and path need quoting.
            ACCESS_LOG.write(
                f'{{"request_id": "{request_id}", "method": {quote(scope["method"])},'
                f' "path": {quote(scope["path"])}, "status": {status},'
                f' "duration_ms": {round(seconds * 1000, 3)}}}'
            )


class SecurityHeadersMiddleware(HTTPMiddleware):
    """Adds `SECURITY_HEADERS` to every answer that does not set them itself."""

    _pairs = tuple(
        (name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
    )
    _docs_policy = (b"content-security-policy", DOCS_CONTENT_SECURITY_POLICY.encode())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_docs = scope["path"].startswith(DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Byte pairs on the raw list: this runs for every answer, cached ones included.
                headers = list(message.get("headers", ()))
                present = {name for name, _ in headers}  # ASGI names are lower-case
                if is_docs:
                    headers = [h for h in headers if h[0] != self._docs_policy[0]]
                    headers.append(self._docs_policy)
                    present.add(self._docs_policy[0])
                headers.extend(pair for pair in self._pairs if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _HeadAnswered(Exception):
    """The headers of a HEAD have gone out: what the GET would stream next is not wanted."""


class HeadAsGetMiddleware(HTTPMiddleware):
    """Answers HEAD as the same GET would, without the body (FastAPI routes only take GET). A
    streamed body (an export, an event stream that never ends) is stopped at its first chunk."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                await send({"type": "http.response.body", "body": b""})
                if message.get("more_body", False):
                    raise _HeadAnswered
                return
            await send(message)

        with contextlib.suppress(_HeadAnswered):
            await self.app({**scope, "method": "GET"}, receive, send_without_body)


ACCESS_LOG_FLUSH_SECONDS = 0.2
ACCESS_LOG_QUEUE = 100_000


class AccessLog:
    """One JSON line per request on stdout, written in batches at least every
    `ACCESS_LOG_FLUSH_SECONDS` by a thread of its own: one write per batch rather than a flush
    per request, which would cost a system call each. Not through `logging`: a log record per
    request costs more than a cached answer does otherwise. The queue is safe to append to from
    any thread and holds at most `ACCESS_LOG_QUEUE` lines (a stdout that cannot keep up loses
    the oldest, counted in `dropped`); what is queued at exit is written then."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque(maxlen=ACCESS_LOG_QUEUE)
        self._flushing = threading.Lock()
        self._started = False
        self.dropped = 0

    def write(self, line: str) -> None:
        if not self._started:
            self._start()
        if len(self._lines) == ACCESS_LOG_QUEUE:
            self.dropped += 1
        self._lines.append(line)

    def flush(self) -> None:
        with self._flushing:
            lines = [self._lines.popleft() for _ in range(len(self._lines))]
            if not lines:
                return
            try:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            except (OSError, ValueError):  # a closed or broken stdout: the lines are lost
                self.dropped += len(lines)

    def _start(self) -> None:
        with self._flushing:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._flush_every, daemon=True).start()
        atexit.register(self.flush)

    def _flush_every(self) -> None:
        while True:
            time.sleep(ACCESS_LOG_FLUSH_SECONDS)
            self.flush()


ACCESS_LOG = AccessLog()


def configure_logging() -> None:
    """The service's own messages go to stderr (access lines go to stdout: `AccessLog`)."""
    # No format here uses the caller, thread or process of a record: skip finding them, as
    # the logging HOWTO's "Optimization" section shows.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    service_log = logging.getLogger("app")
    if not service_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        service_log.addHandler(handler)
        service_log.setLevel(logging.INFO)


EXPOSED_HEADERS = [
    "ETag",
    "Link",
    "X-Request-ID",
    "X-Dataset-Version",
    "Location",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
]


def _cors_options(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": settings.cors_origins,
        "allow_credentials": False,
        "allow_methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }


def _check_scopes(keys: Iterable[ApiKey]) -> None:
    for key in keys:
        if (key.scope or set()) - BY_NAME.keys():
            # Not named back: a secret with a colon in it would show its tail here.
            raise ValueError(
                f"SUMMIT_API_KEYS: the scope of the key {key.name!r} names a collection this API"
                " does not have (after a second colon comes a scope: a secret has no colon)"
            )


def install(app: Any, settings: Settings) -> None:
    """Add the middleware stack to `app`; the last added runs first."""
    configure_logging()
    keys = settings.api_keys()
    _check_scopes(keys.values())
    if keys:
        log.info("API keys: %s", "; ".join(key.describe() for key in keys.values()))
    else:
        log.warning("writes are disabled: SUMMIT_API_KEYS is empty, every write answers 401")
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(WriteGateMiddleware, keys=keys, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(HeadAsGetMiddleware)
    cors = _cors_options(settings)
    app.add_middleware(CORSMiddleware, **cors)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ConditionalGetMiddleware, cors_origins=settings.cors_origins)
    if settings.rate_limit:
        # A refusal carries the security and CORS headers every answer does.
        refusal = SecurityHeadersMiddleware(CORSMiddleware(answer_rate_limited, **cors))
        app.add_middleware(
            RateLimitMiddleware,
            limit=limit_of(settings.rate_limit),
            storage=storage_of(settings.rate_limit_storage),
            keys=keys,
            refusal=refusal,
        )
    app.add_middleware(RequestRecordMiddleware)
