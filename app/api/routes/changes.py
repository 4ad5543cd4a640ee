"""The audit trail of writes: who changed what, when, from what to what. Needs a key."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from app.api.dependencies import DatabaseDep, KeyNameDep, annotated
from app.api.parameters import FieldsQuery, PageQuery, documented_query
from app.api.problems import documented
from app.api.rendering import Page, page_response, parse_fields
from app.data.reads import Window, list_changes
from app.data.registry import BY_NAME
from app.data.tables import ChangePublic

router = APIRouter(tags=["changes"])


class _ChangesQuery(PageQuery, FieldsQuery):
    # A Literal of the registry's names: FastAPI documents and checks it; mypy cannot.
    collection: Literal[tuple(BY_NAME)] | None = Field(  # type: ignore[valid-type]
        None, description="Only changes to this collection."
    )
    entity_id: str | None = Field(None, max_length=200, description="Only changes to this id.")


ChangesQuery = documented_query(_ChangesQuery, fields_of=ChangePublic)


@router.get(
    "/changes",
    response_model=Page[ChangePublic],
    summary="The audit trail of writes, newest first",
    operation_id="list_changes",
    responses=documented(401, 403),
)
@annotated(query=Annotated[ChangesQuery, Query()])
async def get_changes(
    request: Request, database: DatabaseDep, _key_name: KeyNameDep, query: _ChangesQuery
) -> Response:
    fields = parse_fields(ChangePublic, query.fields)
    with database.session() as session:
        changes, total = list_changes(
            session,
            collection=query.collection,
            entity_id=query.entity_id,
            limit=query.limit,
            offset=query.offset,
        )
    return page_response(
        request,
        ChangePublic,
        Window.at_offset(changes, total, query.offset),
        limit=query.limit,
        fields=fields,
        format_=query.format,
    )
