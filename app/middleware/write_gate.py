"""The gate in front of every write: API key, then body size, then content type, all checked
before the body reaches a route, so that a request without a valid key gets 401 whatever its
body. It guards every write method under the API prefix, so a new write route is protected
without doing anything, and every operation whose OpenAPI entry declares that it needs a key
(the audit trail), so no path is listed here."""

import hmac
import logging
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import Problem, problem_response
from app.api.route_table import methods_at, needs_key
from app.config import API_PREFIX, ApiKey
from app.middleware.asgi import HTTPMiddleware, header

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
JSON_TYPES = {"application/json", "application/merge-patch+json"}
CHALLENGE = 'Bearer realm="summit-data"'

log = logging.getLogger("app.middleware.write_gate")


def presented_key(authorization: str, keys: Mapping[str, ApiKey]) -> ApiKey | None:
    """The key `Authorization: Bearer <secret>` presents, or None. Every configured secret is
    compared, in constant time, so the timing tells nothing about any of them."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    presented = token.strip().encode()
    found = None
    for key in keys.values():
        if hmac.compare_digest(presented, key.secret.encode()):
            found = key
    return found


def target_of(path: str) -> str:
    """What an API path acts on: the collection (or `changes`) its first segment names."""
    return path.removeprefix(f"{API_PREFIX}/").split("/", 1)[0]


class WriteGateMiddleware(HTTPMiddleware):
    def __init__(self, app: ASGIApp, *, keys: Mapping[str, ApiKey], max_body_bytes: int) -> None:
        super().__init__(app)
        self.keys = keys
        self.max_body_bytes = max_body_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        is_write = method in WRITE_METHODS and path.startswith(f"{API_PREFIX}/")
        if is_write and not _has_route(scope):
            is_write = False  # no such operation: the router answers 404 or 405, body unread
        if not is_write and not needs_key(scope["app"], method, path):
            await self.app(scope, receive, send)
            return
        key = presented_key(header(scope, b"authorization"), self.keys)
        if key is None:
            await self._refuse(scope, receive, send, self._unauthorized(scope))
            return
        if key.scope is not None and target_of(path) not in key.scope:
            await self._refuse(scope, receive, send, _out_of_scope(key, method, path))
            return
        scope.setdefault("state", {})["api_key_name"] = key.name
        if is_write and method != "DELETE":
            problem = self._check_content_type(scope)
            body = None if problem else await self._read_body(receive)
            if problem or body is None:
                await self._refuse(scope, receive, send, problem or self._too_large())
                return
            receive = _replay(body)
        await self.app(scope, receive, send)

    def _unauthorized(self, scope: Scope) -> Problem:
        given = bool(header(scope, b"authorization"))
        if not self.keys:
            detail = "Writes are disabled: this service has no API keys configured."
        elif given:
            detail = "The API key is not valid."
        else:
            detail = "An API key is required: send Authorization: Bearer <key>."
        challenge = f'{CHALLENGE}, error="invalid_token"' if given else CHALLENGE
        return Problem(401, detail, headers={"WWW-Authenticate": challenge})

    def _too_large(self) -> Problem:
        return Problem(413, f"The request body is larger than {self.max_body_bytes} bytes.")

    def _check_content_type(self, scope: Scope) -> Problem | None:
        length = header(scope, b"content-length")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self._too_large()
        media_type = header(scope, b"content-type").split(";")[0].strip().lower()
        if media_type not in JSON_TYPES:
            accepted = " or ".join(sorted(JSON_TYPES))
            return Problem(415, f"The body must be {accepted}, not {media_type or 'untyped'}.")
        return None

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit (whatever Content-Length said)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
        await problem_response(problem)(scope, receive, send)


def _out_of_scope(key: ApiKey, method: str, path: str) -> Problem:
    reach = ", ".join(sorted(key.scope or ()))
    return Problem(403, f"The API key {key.name!r} may write only {reach}: not {method} {path}.")


def _has_route(scope: Scope) -> bool:
    """Whether the API has this operation (method at path)."""
    return scope["method"] in methods_at(scope["app"], scope["path"])


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
