"""Errors as RFC 9457 problem details (`application/problem+json`), for every 4xx and 5xx.

Routes raise `Problem`; the handlers installed here turn it, FastAPI's validation errors and
Starlette's HTTP errors (unknown path, wrong method) into one shape. No stack trace ever leaves.
"""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.route_table import methods_at
from app.data.engine import why_unavailable
from app.data.writes import WriteError

PROBLEM_MEDIA_TYPE = "application/problem+json"
INVALID_QUERY = "urn:summit-api:problem:invalid-query"
INVALID_BODY = "urn:summit-api:problem:invalid-body"
NOT_FOUND = "urn:summit-api:problem:not-found"
CONFLICT = "urn:summit-api:problem:conflict"

BODY_METHODS = {"POST", "PUT", "PATCH"}

log = logging.getLogger("app.api.problems")


class InvalidParam(BaseModel):
    detail: str
    parameter: str | None = Field(None, description="The query or path parameter at fault.")
    pointer: str | None = Field(None, description="JSON Pointer to the body field at fault.")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", examples=[INVALID_QUERY])
    title: str = Field(examples=["Invalid query parameter"])
    status: int = Field(examples=[400])
    detail: str = Field(examples=["limit: Input should be less than or equal to 500"])
    errors: list[InvalidParam] | None = None


class Problem(Exception):
    """An error to answer as problem details."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        errors: list[InvalidParam] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.body = ProblemDetails(
            type=type_,
            title=title or HTTPStatus(status).phrase,
            status=status,
            detail=detail,
            errors=errors,
        )
        self.headers = headers


def bad_parameter(name: str, detail: str) -> Problem:
    """A 400 naming the query parameter at fault."""
    return Problem(
        400,
        f"{name}: {detail}",
        title="Invalid query parameter",
        type_=INVALID_QUERY,
        errors=[InvalidParam(parameter=name, detail=detail)],
    )


def not_found(what: str) -> Problem:
    return Problem(404, f"No {what}.", type_=NOT_FOUND)


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body.model_dump(exclude_none=True),
        status_code=problem.body.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _from_validation_error(error: RequestValidationError) -> Problem:
    """400 when the query, path or headers are at fault (the contract's rule), else 422."""
    in_body = any(e["loc"] and e["loc"][0] == "body" for e in error.errors())
    errors = []
    for e in error.errors():
        location, *path = e["loc"] or ("request",)
        message = e["msg"].removeprefix("Value error, ")  # pydantic's, before our own words
        if e["type"] == "json_invalid":  # the location is a character offset, not a field
            message, path = f"{message} (at character {path[0] if path else 0})", []
        if location == "body":
            errors.append(InvalidParam(pointer="/" + "/".join(map(str, path)), detail=message))
        else:
            name = ".".join(map(str, path)) or str(location)
            if e["type"] == "extra_forbidden":
                message = "unknown parameter"
            errors.append(InvalidParam(parameter=name, detail=message))
    summary = "; ".join(f"{e.parameter or e.pointer}: {e.detail}" for e in errors)
    if in_body:
        return Problem(
            422, summary, title="Invalid request body", type_=INVALID_BODY, errors=errors
        )
    return Problem(
        400, summary, title="Invalid query parameter", type_=INVALID_QUERY, errors=errors
    )


async def _handle_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _handle_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(_from_validation_error(exc))


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 400 and request.method in BODY_METHODS:
        # FastAPI's answer to a body it cannot decode at all (bad UTF-8, nesting too deep).
        return problem_response(
            Problem(
                422,
                "The body is not readable JSON.",
                title="Invalid request body",
                type_=INVALID_BODY,
            )
        )
    if exc.status_code == 404:
        detail = f"No resource at {request.url.path}."
    headers: dict[str, Any] | None = getattr(exc, "headers", None)
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
        # Starlette names only the first matching route's methods; the API may have more.
        allowed = methods_at(request.app, request.url.path) or {"GET"}
        headers = {**(headers or {}), "Allow": ", ".join(sorted(allowed))}
    return problem_response(Problem(exc.status_code, detail, headers=headers))


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        Problem(500, "The server could not answer this request; the error has been logged.")
    )


RETRY_AFTER_SECONDS = 5


UNAVAILABLE_DETAIL = {
    "unmigrated": "The database is not migrated to this version of the service: a table or"
    " column it needs is missing. Try again once the migrations have run.",
    "unreachable": "The database cannot be reached just now; try again shortly.",
    "timed_out": "The query ran longer than this service allows (QUERY_TIMEOUT_MS) and was"
    " stopped; try again shortly, or ask for less.",
}


async def _handle_database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database that is down, locked, or behind the service's schema is a passing state that
    a retry may get past (503), not a fault of the request; any other database error is ours."""
    assert isinstance(exc, DBAPIError)
    why = why_unavailable(exc)
    if why is None:
        return await _handle_unexpected(request, exc)
    reason = exc.orig or type(exc).__name__  # the driver's words, no SQL
    log.warning("database %s on %s %s: %s", why, request.method, request.url.path, reason)
    return problem_response(
        Problem(503, UNAVAILABLE_DETAIL[why], headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    )


async def _handle_pool_exhausted(request: Request, _exc: Exception) -> JSONResponse:
    """Every connection of the pool in use past its timeout (long exports, say): busy, not
    broken."""
    log.warning("no database connection free on %s %s", request.method, request.url.path)
    return problem_response(
        Problem(
            503,
            "Every database connection of this server is in use; try again shortly.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    )


WRITE_ERROR_STATUS = {"invalid": 422, "not_found": 404, "conflict": 409}


async def _handle_write_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WriteError)
    errors = [InvalidParam(pointer=e.pointer, detail=e.detail) for e in exc.errors] or None
    status = WRITE_ERROR_STATUS[exc.kind]
    problem_type, title = {
        422: (INVALID_BODY, "Invalid request body"),
        404: (NOT_FOUND, None),
        409: (CONFLICT, None),
    }[status]
    return problem_response(
        Problem(status, exc.detail, title=title, type_=problem_type, errors=errors)
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(WriteError, _handle_write_error)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(DBAPIError, _handle_database_error)
    app.add_exception_handler(PoolTimeout, _handle_pool_exhausted)
    app.add_exception_handler(Exception, _handle_unexpected)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route, so that its errors are documented with the problem schema."""
    schema = {"$ref": "#/components/schemas/ProblemDetails"}
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }
