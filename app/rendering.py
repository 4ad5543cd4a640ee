"""Turning query results into HTTP answers: the list envelope, the `Link` header, `sort` and
`fields` parsing. Shared by every list endpoint."""

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from app.collections import Collection
from app.problems import bad_parameter
from app.queries import SortKey

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """The list envelope: one page of items and where it sits in the whole."""

    items: list[ItemT]
    total: int
    limit: int
    offset: int


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


def link_header(request: Request, *, total: int, limit: int, offset: int) -> str:
    """RFC 8288 links to the first, neighbouring and last pages.

    The targets are relative references (path and query), resolved against the request's own
    URL: they never repeat a Host header the client may have forged.
    """

    def url(at: int) -> str:
        query = request.url.include_query_params(limit=limit, offset=at).query
        return f"{request.url.path}?{query}"

    links = [f'<{url(0)}>; rel="first"']
    if offset > 0:
        links.append(f'<{url(max(offset - limit, 0))}>; rel="prev"')
    if offset + limit < total:
        links.append(f'<{url(offset + limit)}>; rel="next"')
    links.append(f'<{url(max((total - 1) // limit * limit, 0))}>; rel="last"')
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


def wants_csv(request: Request, format_: str | None) -> bool:
    """Whether to answer CSV: `format` decides; else the Accept header, by quality."""
    if format_ is not None:
        return format_ == "csv"
    quality = {"application/json": 0.0, "text/csv": 0.0}
    for media_range in request.headers.get("accept", "").split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        q = next((p.removeprefix("q=") for p in params if p.startswith("q=")), "1")
        try:
            weight = float(q)
        except ValueError:
            continue
        for candidate in quality:
            if media_type.lower() in (candidate, candidate.split("/")[0] + "/*", "*/*"):
                quality[candidate] = max(quality[candidate], weight)
    return quality["text/csv"] > quality["application/json"]


def _csv_cell(value: Any) -> str:
    """One CSV cell: lists joined with "; ", citations as `source[start:end]`."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_csv_cell(item) for item in value)
    if isinstance(value, dict) and "source" in value:
        span = f"[{value['start']}:{value['end']}]" if value.get("start") is not None else ""
        return f"{value['source']}{span}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_rows(columns: Sequence[str], items: Iterable[BaseModel]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180: CRLF line ends, quoting where needed

    def line(values: Sequence[str]) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(columns)
    for item in items:
        values = item.model_dump(mode="json")
        yield line([_csv_cell(values.get(column)) for column in columns])


def csv_response(
    model: type[BaseModel],
    items: Iterable[Any],
    *,
    fields: set[str] | None,
    headers: dict[str, str],
) -> StreamingResponse:
    """A header row and one row per item, written as the rows are produced."""
    columns = [name for name in model.model_fields if fields is None or name in fields]
    rows = _csv_rows(columns, (model.model_validate(item) for item in items))
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)


def page_response(
    request: Request,
    model: type[BaseModel],
    items: Sequence[Any],
    *,
    total: int,
    limit: int,
    offset: int,
    fields: set[str] | None = None,
    format_: str | None = None,
) -> Response:
    link = link_header(request, total=total, limit=limit, offset=offset)
    if wants_csv(request, format_):
        return csv_response(
            model, items, fields=fields, headers={"Link": link, "X-Total-Count": str(total)}
        )
    page = Page[model](  # type: ignore[valid-type]
        items=[model.model_validate(item) for item in items],
        total=total,
        limit=limit,
        offset=offset,
    )
    include = (
        None
        if fields is None
        else {"items": {"__all__": fields}, "total": True, "limit": True, "offset": True}
    )
    return json_response(page, include=include, headers={"Link": link})
