"""Which operations the API has at a path, read from its own OpenAPI document: one answer for
the write gate (is this an operation the API takes, and does it need a key?) and for 405's
`Allow` header."""

import re

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# (pattern, template, {method: whether it declares a security requirement, that is a key})
Operations = list[tuple[re.Pattern[str], str, dict[str, bool]]]


def _operations(app: FastAPI) -> Operations:
    index: Operations | None = getattr(app.state, "operations", None)
    if index is None:
        index = [
            (
                re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"),
                template,
                {method.upper(): bool(op.get("security")) for method, op in operations.items()},
            )
            # The paths alone: no examples, so no database needed.
            for template, operations in get_openapi(
                title=app.title, version=app.version, routes=app.routes
            )["paths"].items()
        ]
        app.state.operations = index
    return index


def methods_at(app: FastAPI, path: str) -> set[str]:
    """The methods the API documents at `path` (a concrete path: `/api/v1/summits/2`)."""
    return {m for pattern, _, methods in _operations(app) if pattern.match(path) for m in methods}


def needs_key(app: FastAPI, method: str, path: str) -> bool:
    """Whether the operation `method` at `path` declares that it needs an API key (HEAD as GET)."""
    method = "GET" if method == "HEAD" else method
    return any(
        methods.get(method, False)
        for pattern, _, methods in _operations(app)
        if pattern.match(path)
    )


KNOWN_PATHS = 4096  # how many paths' templates each app remembers


def template_of(app: FastAPI, path: str) -> str | None:
    """The documented path template `path` falls under (`/api/v1/summits/{number}`), if any."""
    known: dict[str, str | None] = app.state._state.setdefault("templates", {})
    if path not in known:
        if len(known) >= KNOWN_PATHS:  # clients choose paths: the memory stays bounded
            known.clear()
        known[path] = next((t for pattern, t, _ in _operations(app) if pattern.match(path)), None)
    return known[path]
