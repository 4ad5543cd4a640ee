"""Which operations the API has at a path, read from its own OpenAPI document: one answer for
the write gate (is this a write the API takes?) and for 405's `Allow` header."""

import re

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

Operations = list[tuple[re.Pattern[str], str, set[str]]]  # (pattern, template, methods)


def _operations(app: FastAPI) -> Operations:
    index: Operations | None = getattr(app.state, "operations", None)
    if index is None:
        index = [
            (
                re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"),
                template,
                {method.upper() for method in operations},
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


KNOWN_PATHS = 4096  # how many paths' templates each app remembers


def template_of(app: FastAPI, path: str) -> str | None:
    """The documented path template `path` falls under (`/api/v1/summits/{number}`), if any."""
    known: dict[str, str | None] = app.state._state.setdefault("templates", {})
    if path not in known:
        if len(known) >= KNOWN_PATHS:  # clients choose paths: the memory stays bounded
            known.clear()
        known[path] = next((t for pattern, t, _ in _operations(app) if pattern.match(path)), None)
    return known[path]
