"""Routes over the whole dataset: the timeline, full-text search and the export."""

import re
from collections.abc import Iterator
from dataclasses import asdict
from itertools import chain
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field, create_model
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.dependencies import DatabaseDep, annotated, refuse_unknown_version
from app.api.parameters import (
    AS_OF_DESCRIPTION,
    FieldsQuery,
    NoQuery,
    PageQuery,
    VersionNumber,
    documented_query,
)
from app.api.problems import bad_parameter
from app.api.rendering import (
    CSV_CONTENT,
    Page,
    csv_chunks,
    json_response,
    page_response,
    parse_fields,
)
from app.api.urls import with_url
from app.data import history, search, timeline
from app.data.reads import Window, entity_batches, versioned_export
from app.data.registry import BY_NAME, COLLECTIONS, ON_TIMELINE

router = APIRouter()


class _TimelineQuery(PageQuery, FieldsQuery):
    # A Literal of values known at start-up: FastAPI documents and checks it; mypy cannot.
    type: Literal[tuple(c.name for c in ON_TIMELINE)] | None = Field(  # type: ignore[valid-type]
        None, description="Only events about this collection."
    )


def _has_a_word(q: str) -> str:
    # Checked here, not as a documented `pattern`: JSON Schema's regular expressions read
    # `\w` as ASCII only, so no pattern could say "a letter or digit of any script".
    if not re.search(search.WORD_CHARACTER, q):
        raise ValueError("must hold a letter or a digit")
    return q


class _SearchQuery(PageQuery, FieldsQuery):
    q: Annotated[str, AfterValidator(_has_a_word)] = Field(
        min_length=1,
        max_length=200,
        description="Words to find (at least one letter or digit, of any script); every word"
        " must match, each as a prefix.",
    )


class TimelineEvent(BaseModel):
    date: str = Field(description="ISO 8601, to the precision the sources give: 2022-06, 2024.")
    end_date: str | None = None
    title: str
    type: str = Field(description="The collection of the entity the event is about.")
    id: str
    url: str
    note: str | None = Field(None, description="How a derived date was derived.")


def timeline_events(session: Session, *, type_: str | None = None) -> list[dict[str, Any]]:
    """The timeline as the API shows it: each event with its entity's URL."""
    return [with_url(asdict(event)) for event in timeline.timeline(session, type_=type_)]


class SearchHit(BaseModel):
    type: str = Field(description="The collection of the entity found.")
    id: str
    title: str
    snippet: str = Field(description="The best matching passage, matches in <mark>.")
    url: str


def search_hits(
    session: Session, words: list[str], *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Search as the API shows it: each hit with its entity's URL, and the total."""
    hits, total = search.search(session, words, limit=limit, offset=offset)
    return [with_url(hit) for hit in hits], total


TimelineQuery = documented_query(_TimelineQuery, fields_of=TimelineEvent)
SearchQuery = documented_query(_SearchQuery, fields_of=SearchHit)


@router.get(
    "/timeline",
    response_model=Page[TimelineEvent],
    tags=["dataset"],
    summary="Every dated event, in date order",
    operation_id="get_timeline",
)
@annotated(query=Annotated[TimelineQuery, Query()])
async def get_timeline(request: Request, database: DatabaseDep, query: _TimelineQuery) -> Response:
    fields = parse_fields(TimelineEvent, query.fields)
    with database.session() as session:
        events = timeline_events(session, type_=query.type)
    page = events[query.offset : query.offset + query.limit]
    return page_response(
        request,
        TimelineEvent,
        Window.at_offset(page, len(events), query.offset),
        limit=query.limit,
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
@annotated(query=Annotated[SearchQuery, Query()])
async def search_dataset(request: Request, database: DatabaseDep, query: _SearchQuery) -> Response:
    fields = parse_fields(SearchHit, query.fields)
    words = search.query_words(query.q)
    if not words:
        raise bad_parameter("q", "must contain at least one word")
    with database.session() as session:
        hits, total = search_hits(session, words, limit=query.limit, offset=query.offset)
    return page_response(
        request,
        SearchHit,
        Window.at_offset(hits, total, query.offset),
        limit=query.limit,
        fields=fields,
        format_=query.format,
    )


class ExportQuery(NoQuery):
    as_of: VersionNumber | None = Field(None, description=AS_OF_DESCRIPTION)


# A member per collection, named by the registry: create_model's keyword form, untypable.
ExportDocument: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ExportDocument",
    version=(
        int | None,
        Field(
            description="The dataset version this snapshot shows, read in the same transaction"
            " as its records (null before the first load). The seed loader ignores it."
        ),
    ),
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
async def export_dataset(database: DatabaseDep, query: Annotated[ExportQuery, Query()]) -> Any:
    with database.session() as session:  # one snapshot: the records and their version
        if query.as_of is None:
            document = versioned_export(session)
        else:
            refuse_unknown_version(session, query.as_of)
            document = history.export_as_of(session, query.as_of)
    return json_response(ExportDocument.model_validate(document), by_alias=True)


# The collections' names as a Literal made at start-up, for the path parameter's schema.
CollectionName = Literal[tuple(c.name for c in COLLECTIONS)]  # type: ignore[valid-type]


@router.get(
    "/export/{collection}",
    tags=["dataset"],
    summary="Every entity of one collection as CSV, streamed",
    description="The rows of one read of the database, in the collection's default order, "
    "written as they are read: a table of a million rows streams in flat memory.",
    operation_id="export_collection",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": CSV_CONTENT}}},
)
@annotated(collection=CollectionName)
async def export_collection(
    database: DatabaseDep, collection: str, _: Annotated[NoQuery, Query()]
) -> StreamingResponse:
    chosen = BY_NAME[collection]

    def chunks() -> Iterator[str]:
        # One read transaction for the whole export: one state of the data, however long.
        with database.session() as session:
            batches = entity_batches(session, chosen)
            first = next(batches, [])
            yield ""  # the database has answered: what fails from here on cuts the stream
            yield from csv_chunks(chosen.public, chain([first], batches))

    stream = chunks()
    # Before any byte is sent, so that a database that cannot answer is a 503, not a 200
    # with a header row and nothing under it.
    await run_in_threadpool(next, stream)  # waiting for a pooled connection, off the loop
    return StreamingResponse(
        stream,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{collection}.csv"'},
    )
