"""Turning query results into HTTP answers: the list envelope, the `Link` header, `sort` and
`fields` parsing. Shared by every list endpoint."""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, Field

from app.api.problems import bad_parameter
from app.data.conditions import queryable_fields
from app.data.paging import Cursor, CursorError, SortKey, key_of, sort_name
from app.data.reads import Window, sort_keys
from app.data.registry import Collection

ItemT = TypeVar("ItemT")
# How the OpenAPI document describes a CSV answer.
CSV_CONTENT = {"schema": {"type": "string", "description": "A header row, then a row per item."}}


# A value a facet counts: any scalar a field holds.
FacetValue = str | int | float | bool | dt.date | None


class FacetCount(BaseModel):
    value: FacetValue
    count: int


class Page(BaseModel, Generic[ItemT]):
    """The list envelope: one page of items and where it sits in the whole."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int
    facets: dict[str, list[FacetCount]] | None = Field(
        None,
        description="With `facet`: for each field, how many matching items hold each value.",
    )


def parse_sort(collection: Collection, sort: str | None) -> list[SortKey]:
    """`-year,id` as [("year", True), ("id", False)]; an unknown field is a 400."""
    if sort is None:
        return []
    keys = []
    for part in sort.split(","):
        name = part.removeprefix("-")
        if name not in collection.sortable:
            raise bad_parameter(
                "sort", f"cannot sort by {name!r}; sortable: {', '.join(collection.sortable)}"
            )
        keys.append((name, part.startswith("-")))
    return keys


def parse_cursor(collection: Collection, sort: list[SortKey], query: Any) -> Cursor | None:
    """The `cursor` of a list's query, checked against its sort; a bad one is a 400."""
    if query.cursor is None:
        return None
    if "offset" in query.model_fields_set:
        raise bad_parameter("offset", "give offset or cursor, not both")
    keys = sort_keys(collection, sort)
    try:
        return Cursor.decode(query.cursor, sort=sort_name(keys), width=len(keys))
    except CursorError as error:
        raise bad_parameter("cursor", str(error)) from None


def parse_facets(collection: Collection, facets: list[str] | None) -> list[str]:
    """The fields to count values of, each once, in the order asked; an unknown one is a 400."""
    if not facets:
        return []
    known = queryable_fields(collection)
    names = list(dict.fromkeys(n for value in facets for n in value.split(",") if n))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise bad_parameter(
            "facet", f"cannot count values of {unknown}; facetable: {', '.join(known)}"
        )
    return names


def parse_fields(model: type[BaseModel], fields: str | None) -> set[str] | None:
    """The set of fields to return, or None for all; an unknown field is a 400."""
    if fields is None:
        return None
    names = set(fields.split(","))
    unknown = sorted(names - set(model.model_fields))
    if unknown:
        raise bad_parameter(
            "fields", f"unknown fields {unknown}; known: {', '.join(model.model_fields)}"
        )
    return names


def link_header(request: Request, window: Window, *, limit: int) -> str:
    """RFC 8288 links to the first, neighbouring and last pages. In a list with a sort key, all
    but the first go by cursor, so that following them costs the same however deep they go.

    The targets are relative references (path and query), resolved against the request's own
    URL: they never repeat a Host header the client may have forged.
    """
    base = request.url.remove_query_params(["offset", "cursor"])

    def url(at: Cursor | int) -> str:
        where = {"offset": at} if isinstance(at, int) else {"cursor": at.encode()}
        return f"{request.url.path}?{base.include_query_params(limit=limit, **where).query}"

    items, position, total = window.items, window.position, window.total
    links = [f'<{url(0)}>; rel="first"']
    if window.keys is None:  # a list paged by offset only
        if position > 0:
            links.append(f'<{url(max(position - limit, 0))}>; rel="prev"')
        if window.more_after:
            links.append(f'<{url(position + limit)}>; rel="next"')
        links.append(f'<{url(max((total - 1) // limit * limit, 0))}>; rel="last"')
        return ", ".join(links)
    sort = sort_name(window.keys)
    if window.more_before:
        prev = (
            Cursor("before", sort, key_of(items[0], window.keys), max(position - limit, 0))
            if items
            else Cursor("last", sort)
        )
        links.append(f'<{url(prev)}>; rel="prev"')
    if window.more_after and items:
        after = Cursor("after", sort, key_of(items[-1], window.keys), position + len(items))
        links.append(f'<{url(after)}>; rel="next"')
    links.append(f'<{url(Cursor("last", sort))}>; rel="last"')
    return ", ".join(links)


def json_response(
    content: BaseModel,
    *,
    include: Any = None,
    by_alias: bool = False,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        content.model_dump_json(include=include, by_alias=by_alias),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def accepted_weights(accept: str) -> dict[str, float]:
    """The media ranges of an Accept header (lower case) and their weights (`q`, 1 if none);
    a range with a weight that is no number is left out."""
    weights: dict[str, float] = {}
    for media_range in accept.split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        q = next((p.removeprefix("q=") for p in params if p.startswith("q=")), "1")
        try:
            weight = float(q)
        except ValueError:
            continue
        if media_type:
            weights[media_type.lower()] = max(weights.get(media_type.lower(), 0.0), weight)
    return weights


def quality_of(weights: dict[str, float], candidate: str) -> float:
    """How much a client accepts `candidate`: by its own range, its type's, or `*/*`."""
    ranges = (candidate, candidate.split("/")[0] + "/*", "*/*")
    return max((weights[r] for r in ranges if r in weights), default=0.0)


def wants_csv(request: Request, format_: str | None) -> bool:
    """Whether to answer CSV: `format` decides; else the Accept header, by quality."""
    if format_ is not None:
        return format_ == "csv"
    weights = accepted_weights(request.headers.get("accept", ""))
    return quality_of(weights, "text/csv") > quality_of(weights, "application/json")


def _citation_cell(citation: dict[str, Any]) -> str:
    """`article[1716:1859] "Meanwhile, Xi announced …" (supports name, focus), said by x`."""
    where = str(citation["source"])
    if citation.get("start") is not None:
        where += f'[{citation["start"]}:{citation["end"]}] "{citation["quote"]}"'
    supports = f" (supports {', '.join(citation.get('fields') or [])})"
    said_by = f", said by {citation['said_by']}" if citation.get("said_by") else ""
    return where + supports + said_by


def _csv_cell(value: Any) -> str:
    """One CSV cell: lists joined with "; "; citations and derivations one to a line, each
    saying what it supports."""
    if value is None:
        return ""
    if isinstance(value, list):
        separator = "\n" if any(isinstance(item, dict) for item in value) else "; "
        return separator.join(_csv_cell(item) for item in value)
    if isinstance(value, dict) and "source" in value:
        return _citation_cell(value)
    if isinstance(value, dict) and "basis" in value:
        return f"{value['basis']} ({', '.join(value['fields'])}): {value['note']}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_rows(
    columns: Sequence[str], items: Iterable[BaseModel], *, header: bool = True
) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF line ends, quoting where needed

    def line(values: Sequence[str]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if header:
        yield line(columns)
    for item in items:
        values = item.model_dump(mode="json")
        yield line([_csv_cell(values.get(column)) for column in columns])


def csv_chunks(model: type[BaseModel], batches: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header row, then one chunk of rows per batch of items."""
    columns = list(model.model_fields)
    rows = _csv_rows(columns, ())
    yield next(rows)
    for batch in batches:
        items = (model.model_validate(item) for item in batch)
        yield "".join(_csv_rows(columns, items, header=False))


def csv_response(
    model: type[BaseModel],
    items: Iterable[Any],
    *,
    fields: set[str] | None,
    headers: dict[str, str],
) -> Response:
    """A header row and one row per item: a page, made whole (exports stream, see
    `csv_chunks`)."""
    columns = [name for name in model.model_fields if fields is None or name in fields]
    rows = _csv_rows(columns, (model.model_validate(item) for item in items))
    return Response("".join(rows), media_type="text/csv; charset=utf-8", headers=headers)


class FacetRow(BaseModel):
    """A facet count as a CSV row."""

    facet: str
    value: FacetValue
    count: int


def _facet_rows(facets: dict[str, list[dict[str, Any]]]) -> list[FacetRow]:
    return [FacetRow(facet=name, **count) for name, counts in facets.items() for count in counts]


def page_response(
    request: Request,
    model: type[BaseModel],
    window: Window,
    *,
    limit: int,
    fields: set[str] | None = None,
    format_: str | None = None,
) -> Response:
    link = link_header(request, window, limit=limit)
    if wants_csv(request, format_):
        headers = {"Link": link, "X-Total-Count": str(window.total)}
        if window.facets is not None:
            rows = _facet_rows(window.facets)
            return csv_response(FacetRow, rows, fields=None, headers=headers)
        return csv_response(model, window.items, fields=fields, headers=headers)
    # The envelope of a model chosen at run time, which a static type cannot name.
    page = Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(item) for item in window.items],
        total=window.total,
        limit=limit,
        offset=window.position,
        facets=window.facets,
    )
    include: dict[str, Any] = {"items": True if fields is None else {"__all__": fields}}
    include |= dict.fromkeys(["total", "limit", "offset"], True)
    if window.facets is not None:
        include["facets"] = True
    return json_response(page, include=include, headers={"Link": link})
