"""Requests per client, limited before any other work: `RATE_LIMIT` (`600/minute`), counted by
the `limits` library in this process or, with `RATE_LIMIT_STORAGE=redis://…`, in a Redis every
process and replica shares.

A client is the API key's name when it sends a valid key, else its address. Every limited answer
carries the IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers,
its structured-field syntax: `"default";q=600;w=60` and `"default";r=599;t=42`); past the limit,
`429` problem+json with `Retry-After`. Health checks and metrics are never limited: a monitor
must see the service whatever its clients do.
"""

import asyncio
import logging
import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import Problem, problem_response
from app.config import ApiKey
from app.middleware.asgi import HTTPMiddleware, header
from app.middleware.write_gate import presented_key

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
POLICY = "default"
WARN_EVERY_SECONDS = 60
# How long counting may take before the request is served without it.
STORAGE_TIMEOUT_SECONDS = 0.25

log = logging.getLogger("app.middleware.rate_limit")


def limit_of(text: str) -> RateLimitItem:
    """`RATE_LIMIT` read, or a ValueError that says what it should be."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"RATE_LIMIT {text!r} is not a rate such as 600/minute") from None


def storage_of(uri: str) -> Storage:
    """The counters' storage: `memory://` (this process) or `redis://host:port` (shared)."""
    scheme = uri.split("://", 1)[0]
    async_uri = uri if scheme.startswith("async+") else f"async+{uri}"
    try:
        # Wrapped, a storage's own errors (a Redis that is down) are one type: StorageError.
        storage = storage_from_string(async_uri, wrap_exceptions=True)
    except ConfigurationError as error:
        raise ValueError(f"RATE_LIMIT_STORAGE {uri!r}: {error}") from None
    if not isinstance(storage, Storage):  # an async+ scheme always gives one
        raise ValueError(f"RATE_LIMIT_STORAGE {uri!r} has no asynchronous storage")
    return storage


class RateLimitMiddleware(HTTPMiddleware):
    """Counts each request of a client against `limit`; `refusal` answers one past it (the
    problem is in the scope's state), so that it carries the headers every answer does."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: RateLimitItem,
        storage: Storage,
        keys: Mapping[str, ApiKey],
        refusal: ASGIApp,
    ) -> None:
        super().__init__(app)
        self.limit = limit
        self.limiter = FixedWindowRateLimiter(storage)
        self.keys = keys
        self.refusal = refusal
        self.warned_at = -math.inf
        window = self.limit.get_expiry()
        self.policy = (b"ratelimit-policy", f'"{POLICY}";q={self.limit.amount};w={window}'.encode())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in UNLIMITED_PATHS or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        client = self._client_of(scope)
        try:
            # A Redis that takes connections but never answers must not hold every request.
            async with asyncio.timeout(STORAGE_TIMEOUT_SECONDS):
                allowed = await self.limiter.hit(self.limit, client)
                reset, remaining = await self.limiter.get_window_stats(self.limit, client)
        except (StorageError, TimeoutError) as error:
            # Serving unlimited beats refusing everyone while the counters are out of reach.
            self._warn_unlimited(error)
            await self.app(scope, receive, send)
            return
        seconds = max(0, math.ceil(reset - time.time()))
        headers = [self.policy, (b"ratelimit", f'"{POLICY}";r={remaining};t={seconds}'.encode())]
        if not allowed:
            detail = f"More than {self.limit.amount} requests {_per(self.limit)}: retry in"
            problem = Problem(
                429, f"{detail} {seconds} s.", headers={"Retry-After": str(max(1, seconds))}
            )
            scope.setdefault("state", {})["rate_limit_problem"] = problem
            await self.refusal(scope, receive, _with_headers(send, headers))
            return
        await self.app(scope, receive, _with_headers(send, headers))

    def _warn_unlimited(self, error: StorageError | TimeoutError) -> None:
        now = time.monotonic()
        if now - self.warned_at >= WARN_EVERY_SECONDS:
            self.warned_at = now
            why = error.storage_error if isinstance(error, StorageError) else "no answer in time"
            log.warning("rate limit not applied: its storage failed (%s)", why)

    def _client_of(self, scope: Scope) -> str:
        authorization = header(scope, b"authorization")
        key = presented_key(authorization, self.keys) if authorization else None
        if key is not None:
            return f"key:{key.name}"
        client = scope.get("client")
        return f"address:{client[0] if client else 'unknown'}"


def _per(limit: RateLimitItem) -> str:
    granularity = limit.GRANULARITY.name
    return f"per {granularity}" if limit.multiples == 1 else f"per {limit.multiples} {granularity}s"


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return send_with_headers


async def answer_rate_limited(scope: Scope, receive: Receive, send: Send) -> None:
    """The 429 the limiter decided on, as problem+json."""
    await problem_response(scope["state"]["rate_limit_problem"])(scope, receive, send)
