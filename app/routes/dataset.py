"""Routes over the whole dataset: the timeline, full-text search and the export."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field, create_model

from app import search, timeline
from app.collections import COLLECTIONS, FieldsQuery, NoQuery, PageQuery, documented_query
from app.deps import DatabaseDep
from app.problems import bad_parameter
from app.queries import export
from app.rendering import Page, json_response, page_response, parse_fields

router = APIRouter()


class _TimelineQuery(PageQuery, FieldsQuery):
    type: Literal[tuple(timeline.KIND_ORDER)] | None = Field(  # type: ignore[valid-type]
        None, description="Only events about this collection."
    )


class _SearchQuery(PageQuery, FieldsQuery):
    q: str = Field(
        min_length=1,
        max_length=200,
        pattern=search.WORD_CHARACTER,
        description="Words to find; every word must match, each as a prefix.",
    )


class SearchHit(BaseModel):
    type: str = Field(description="The collection of the entity found.")
    id: str
    title: str
    snippet: str = Field(description="The best matching passage, matches in <mark>.")
    url: str


TimelineQuery = documented_query(_TimelineQuery, fields_of=timeline.TimelineEvent)
SearchQuery = documented_query(_SearchQuery, fields_of=SearchHit)


@router.get(
    "/timeline",
    response_model=Page[timeline.TimelineEvent],
    tags=["dataset"],
    summary="Every dated event, in date order",
    operation_id="get_timeline",
)
async def get_timeline(
    request: Request,
    database: DatabaseDep,
    query: Annotated[TimelineQuery, Query()],  # type: ignore[valid-type]
) -> Response:
    fields = parse_fields(timeline.TimelineEvent, query.fields)
    with database.session() as session:
        events = timeline.timeline(session, type_=query.type)
    return page_response(
        request,
        timeline.TimelineEvent,
        events[query.offset : query.offset + query.limit],
        total=len(events),
        limit=query.limit,
        offset=query.offset,
        fields=fields,
        format_=query.format,
    )


@router.get(
    "/search",
    response_model=Page[SearchHit],
    tags=["dataset"],
    summary="Full-text search over every collection",
    operation_id="search",
)
async def search_dataset(
    request: Request,
    database: DatabaseDep,
    query: Annotated[SearchQuery, Query()],  # type: ignore[valid-type]
) -> Response:
    fields = parse_fields(SearchHit, query.fields)
    words = search.query_words(query.q)
    if not words:
        raise bad_parameter("q", "must contain at least one word")
    with database.session() as session:
        hits, total = search.search(session, words, limit=query.limit, offset=query.offset)
    return page_response(
        request,
        SearchHit,
        hits,
        total=total,
        limit=query.limit,
        offset=query.offset,
        fields=fields,
        format_=query.format,
    )


ExportDocument: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ExportDocument",
    **{
        c.name.replace("-", "_"): (list[c.create], Field(alias=c.name))  # type: ignore[name-defined]
        for c in COLLECTIONS
    },
)


@router.get(
    "/export",
    response_model=ExportDocument,
    tags=["dataset"],
    summary="The whole dataset, in the shape the seed loader reads",
    operation_id="export_dataset",
)
async def export_dataset(database: DatabaseDep, _: Annotated[NoQuery, Query()]) -> Any:
    with database.session() as session:
        document = export(session)
    return json_response(ExportDocument.model_validate(document), by_alias=True)
