"""The pages for people, and `/`: a landing page for a browser, the API index for the rest."""

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from markupsafe import Markup, escape
from pydantic import BaseModel, Field

from app.api.dependencies import DatabaseDep
from app.api.parameters import NoQuery
from app.api.rendering import json_response
from app.api.routes.dataset import search_hits, timeline_events
from app.api.routes.index import api_index
from app.api.urls import page_path
from app.config import API_PREFIX
from app.data import search
from app.pages.landing import DRAWING, landing_context, timeline_marks
from app.pages.rendering import page, wants_html

router = APIRouter()


class ApiIndex(BaseModel):
    name: str
    description: str
    version: str = Field(description="The API's version.")
    links: dict[str, str] = Field(
        description="Every collection, the timeline, search, the export, the feed, the data"
        " package, the docs and the OpenAPI document, by name."
    )


@router.get(
    "/",
    response_model=ApiIndex,
    tags=["dataset"],
    summary="The API index; for a browser, the landing page",
    description="JSON unless the client prefers `text/html` (a browser): then the landing"
    " page, which shows the dataset, its source, the summits, the key figures and the timeline,"
    " and links every collection and download.",
    operation_id="get_index",
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}},
)
async def index(
    request: Request, database: DatabaseDep, _: Annotated[NoQuery, Query()]
) -> Response:
    if not wants_html(request):
        body = ApiIndex.model_validate(api_index(request.app.version))
        headers = {"Vary": "Accept", "Link": '</>; rel="alternate"; type="text/html"'}
        return json_response(body, headers=headers)
    with database.session() as session:
        context = landing_context(session)
    return page(request, "landing.html", context, alternate="/")


class SearchPageQuery(NoQuery):
    q: str = Field("", max_length=200)


MARKS = re.compile(r"(</?mark>)")


def marked_snippet(snippet: str) -> Markup:
    """A search snippet's own `<mark>` tags kept, everything else escaped."""
    return Markup("").join(
        Markup(part) if MARKS.fullmatch(part) else escape(part) for part in MARKS.split(snippet)
    )


@router.get("/timeline", include_in_schema=False)
async def timeline_page(
    request: Request, database: DatabaseDep, _: Annotated[NoQuery, Query()]
) -> Response:
    with database.session() as session:
        events = timeline_events(session)
    for event in events:
        event["page"] = page_path(event["url"])
    context = {"events": events, "marks": timeline_marks(events), "drawing": DRAWING}
    return page(request, "timeline.html", context, alternate=f"{API_PREFIX}/timeline")


@router.get("/search", include_in_schema=False)
async def search_page(
    request: Request, database: DatabaseDep, query: Annotated[SearchPageQuery, Query()]
) -> Response:
    q = query.q
    words = search.query_words(q)
    hits: list[dict[str, object]] = []
    total = 0
    if words:
        with database.session() as session:
            hits, total = search_hits(session, words, limit=50, offset=0)
    for hit in hits:
        hit["page"] = page_path(str(hit["url"]))
        hit["marked"] = marked_snippet(str(hit["snippet"]))
    alternate = f"{API_PREFIX}/search?{request.url.query}" if q else f"{API_PREFIX}/search"
    context = {"q": q, "hits": hits, "total": total, "searched": bool(words)}
    return page(request, "search.html", context, alternate=alternate)
