"""`GET /sources/{id}/annotations`: the reverse view of citations, from a source's text to
the entities its passages support."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from app.api.dependencies import DatabaseDep, annotated
from app.api.parameters import FieldsQuery, PageQuery, documented_query
from app.api.problems import documented, not_found
from app.api.rendering import Page, page_response, parse_fields
from app.api.urls import with_url
from app.data.reads import Window, get_entity, source_annotations
from app.data.registry import QUOTED

router = APIRouter(tags=["sources"])


class Annotation(BaseModel):
    """One citation into a source: the passage, and the entity and fields it supports."""

    start: int | None = Field(description="Where the quote starts in the source's text.")
    end: int | None
    quote: str | None
    prefix: str | None = Field(description="Up to 32 characters of text before the quote.")
    suffix: str | None = Field(description="Up to 32 characters of text after the quote.")
    type: str = Field(description="The collection of the entity that cites the passage.")
    id: str = Field(description="The id of that entity.")
    url: str
    fields: list[str] = Field(description="The fields of that entity the passage supports.")
    said_by: str | None = Field(description="The person the source attributes the words to.")


class _AnnotationsQuery(PageQuery, FieldsQuery):
    pass


AnnotationsQuery = documented_query(_AnnotationsQuery, fields_of=Annotation)


@router.get(
    "/sources/{id}/annotations",
    response_model=Page[Annotation],
    summary="Every citation into a source, in the order of its text",
    description="The reverse of `sources` on each entity: for each cited passage, the entity "
    "and the fields it supports. A reference source without stored text lists its citations "
    "with null offsets.",
    operation_id="list_source_annotations",
    responses=documented(404),
)
@annotated(query=Annotated[AnnotationsQuery, Query()])
async def list_source_annotations(
    request: Request,
    database: DatabaseDep,
    source_id: Annotated[str, Path(alias="id", max_length=200)],
    query: _AnnotationsQuery,
) -> Response:
    fields = parse_fields(Annotation, query.fields)
    with database.session() as session:
        if get_entity(session, QUOTED, source_id) is None:
            raise not_found(f"source {source_id!r}")
        rows, total = source_annotations(session, source_id, limit=query.limit, offset=query.offset)
    return page_response(
        request,
        Annotation,
        Window.at_offset([with_url(row) for row in rows], total, query.offset),
        limit=query.limit,
        fields=fields,
        format_=query.format,
    )
