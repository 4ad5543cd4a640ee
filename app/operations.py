"""Which operations the API has at a path, read from its own OpenAPI document: one answer for
the write gate (is this a write the API takes?) and for 405's `Allow` header."""

import re

from fastapi import FastAPI


def methods_at(app: FastAPI, path: str) -> set[str]:
    """The methods the API documents at `path` (a concrete path: `/api/v1/summits/2`)."""
    index: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        app.state, "methods_by_path", None
    )
    if index is None:
        index = [
            (
                re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"),
                {method.upper() for method in operations},
            )
            for template, operations in app.openapi()["paths"].items()
        ]
        app.state.methods_by_path = index
    return {method for pattern, methods in index if pattern.match(path) for method in methods}
