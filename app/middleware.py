"""Cross-cutting HTTP behaviour, each a small pure ASGI middleware, installed in `install`.

Outermost first: metrics, request id and access log, security headers, CORS, HEAD as GET,
conditional GET (ETag, 304, Cache-Control, Vary, X-Dataset-Version), the write gate, gzip.
Pure ASGI rather than `BaseHTTPMiddleware`, so that streamed responses stay streamed and each
layer costs little.
"""

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Message, Receive, Scope, Send

from app.asgi import HTTPMiddleware, header
from app.auth import WriteGateMiddleware
from app.caching import ConditionalGetMiddleware
from app.config import Settings
from app.metrics import MetricsMiddleware

REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is kept only if it is short and plain: it goes into logs and headers.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

access_log = logging.getLogger("app.access")
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


class RequestIdMiddleware(HTTPMiddleware):
    """Gives every response an `X-Request-ID` and logs one JSON line per request."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        offered = header(scope, b"x-request-id")
        request_id = offered if offered and SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                json.dumps(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    }
                )
            )


class SecurityHeadersMiddleware(HTTPMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_docs = scope["path"].startswith(DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if is_docs:
                    headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGetMiddleware(HTTPMiddleware):
    """Answers HEAD as the same GET would, without the body (FastAPI routes only take GET)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)


def configure_logging() -> None:
    """Access lines go to stdout as they are (each is one JSON object); the service's own
    messages to stderr."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
    service_log = logging.getLogger("app")
    if not service_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        service_log.addHandler(handler)
        service_log.setLevel(logging.INFO)


EXPOSED_HEADERS = ["ETag", "Link", "X-Request-ID", "X-Dataset-Version", "Location"]


def install(app: Any, settings: Settings) -> None:
    """Add the middleware stack to `app`; the last added runs first."""
    configure_logging()
    keys = settings.api_keys()
    if not keys:
        log.warning("writes are disabled: SUMMIT_API_KEYS is empty, every write answers 401")
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(WriteGateMiddleware, keys=keys, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(ConditionalGetMiddleware)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-None-Match", "X-Request-ID"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware)
