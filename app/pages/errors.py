"""Errors on pages, for a browser: the same problem the JSON API answers (status, title,
detail, headers such as `Allow` or `Retry-After`), shown as a page. Every other client, and
every path of the JSON API, still gets problem+json."""

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.problems import Problem
from app.config import API_PREFIX
from app.pages.rendering import page, wants_html

Handler = Callable[[Request, Any], Response | Awaitable[Response]]
SHOWN_HEADERS = ("allow", "retry-after", "www-authenticate")


def _as_page(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        answered = handler(request, error)
        problem = await answered if inspect.isawaitable(answered) else answered
        if request.url.path.startswith(API_PREFIX) or not wants_html(request):
            return problem
        details = json.loads(bytes(problem.body))
        as_json = f"{API_PREFIX}{request.url.path}"  # the same problem, as the API answers it
        answer = page(request, "error.html", {"problem": details}, alternate=as_json)
        answer.status_code = problem.status_code
        for name in SHOWN_HEADERS:
            if name in problem.headers:
                answer.headers[name] = problem.headers[name]
        answer.headers["Cache-Control"] = "no-store"
        return answer

    return handle


def install(app: FastAPI) -> None:
    """Wrap the problem handlers `app.api.problems` installed (call it after that)."""
    for kind in (Problem, RequestValidationError, StarletteHTTPException):
        app.exception_handlers[kind] = _as_page(app.exception_handlers[kind])
