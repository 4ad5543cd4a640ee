"""Dependencies shared by the routes, declared once as `Annotated` aliases."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.api.parameters import REPEATED
from app.api.problems import Problem, bad_parameter
from app.data import history
from app.data.engine import Database


async def get_database(request: Request) -> Database:
    # async, so that FastAPI resolves it on the event loop rather than in its thread pool.
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def annotated(**annotations: Any) -> Callable[[EndpointT], EndpointT]:
    """Give an endpoint's parameters the annotations FastAPI reads where these name a model
    made at start-up (a collection's query, say), which no annotation in the source can name:
    the source names its base class, for the type checker. Apply it below the route decorator."""

    def apply(endpoint: EndpointT) -> EndpointT:
        endpoint.__annotations__.update(annotations)
        return endpoint

    return apply


def refuse_future_version(session: Session, parameter: str, version: int) -> None:
    """A 400 for a dataset version the data has not reached: no answer about it can be final."""
    current = history.current_version(session)
    if version > current:
        raise bad_parameter(parameter, f"is past the current dataset version, {current}")


def refuse_unknown_version(session: Session, version: int) -> None:
    """A 400 for an `as_of` the history cannot answer: past the current version, or before the
    history held the whole dataset (a database that kept none before it was migrated)."""
    refuse_future_version(session, "as_of", version)
    start = history.history_from(session)
    if version < start:
        raise bad_parameter(
            "as_of", f"is before version {start}, where this database's history begins"
        )


MAX_QUERY_LENGTH = 4096


async def check_query_string(request: Request) -> None:
    """Refuse a query string that is huge or names a parameter twice (which value would win
    is a guess the API does not make), but for those made to be repeated."""
    if len(request.scope["query_string"]) > MAX_QUERY_LENGTH:
        raise Problem(414, f"The query string is longer than {MAX_QUERY_LENGTH} bytes.")
    seen: set[str] = set()
    for name, value in request.query_params.multi_items():
        if name in seen and name not in REPEATED:
            raise bad_parameter(name, "given more than once")
        if "\x00" in value:
            raise bad_parameter(name, "contains a NUL character")
        seen.add(name)


# Declared so that the OpenAPI document shows which operations need a key; the key itself is
# checked by `app.middleware.write_gate.WriteGateMiddleware` before the body is read.
bearer_scheme = HTTPBearer(auto_error=False, description="An API key from SUMMIT_API_KEYS.")


async def current_key_name(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> str:
    """The name of the API key the request was admitted with."""
    name: str | None = getattr(request.state, "api_key_name", None)
    if name is None:  # only if the gate was not installed: refuse rather than guess
        raise Problem(401, "An API key is required.", headers={"WWW-Authenticate": "Bearer"})
    return name


KeyNameDep = Annotated[str, Depends(current_key_name)]
