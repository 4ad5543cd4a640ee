"""Liveness and readiness, for load balancers and orchestrators."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app.api.dependencies import DatabaseDep
from app.api.parameters import NoQuery
from app.data.reads import readiness

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] | None = None


@router.get("/healthz", response_model=Health, summary="Liveness", operation_id="healthz")
async def healthz(_: Annotated[NoQuery, Query()]) -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: database reachable, migrated and seeded",
    operation_id="readyz",
    responses={503: {"model": Health, "description": "Not ready; `checks` says what is missing"}},
)
async def readyz(
    request: Request, database: DatabaseDep, _: Annotated[NoQuery, Query()]
) -> JSONResponse:
    try:
        with database.session() as session:
            checks = readiness(session, schema_head=request.app.state.schema_head)
    except SQLAlchemyError:
        checks = {"database": False, "migrated": False, "seeded": False}
    ready = all(checks.values())
    body = Health(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
