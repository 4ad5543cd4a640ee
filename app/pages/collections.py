"""A page for every collection (its items as a table) and every entity (each value beside
what supports it), made by one factory from the registry, as the JSON routes are."""

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from sqlmodel import Session

from app.api.dependencies import DatabaseDep
from app.api.parameters import MAX_VALUE_LENGTH, ListQuery, NoQuery, list_query, parse_query
from app.api.problems import bad_parameter, not_found
from app.api.rendering import parse_facets, parse_sort
from app.api.urls import url_of
from app.config import API_PREFIX
from app.data.reads import get_detail, get_entity, list_page, list_window, source_annotations
from app.data.registry import BY_NAME, QUOTED, Collection, named_collections
from app.pages.evidence import (
    entries,
    field_rows,
    marked_runs,
    page_url,
    title_keys,
)
from app.pages.rendering import page

# What only the JSON list takes: a page is paged by offset and shows every column.
JSON_ONLY = frozenset({"cursor", "fields", "format"})
ANNOTATIONS_SHOWN = 10_000  # every quote of a source: the article holds a few dozen


def titles_of(session: Session, keys: Iterable[tuple[str, Any]]) -> dict[tuple[str, Any], str]:
    """The title of each entity named by (collection, key)."""
    titles = {}
    for name, key in set(keys):
        collection = BY_NAME[name]
        entity = get_entity(session, collection, str(key))
        if entity is not None:
            titles[(name, key)] = collection.title(entity)
    return titles


def _columns(collection: Collection) -> list[str]:
    skipped = {"sources", "derivations", "text"}
    return [name for name in collection.public.model_fields if name not in skipped]


def _query_string(request: Request, **changes: Any) -> str:
    """The page's query with `changes` made (None drops a parameter), less what its form left
    empty; a repeated parameter (`facet`) keeps each of its values."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes and v]
    return urlencode([*kept, *((k, v) for k, v in changes.items() if v is not None)])


def _sort_links(request: Request, collection: Collection, current: str | None) -> dict[str, str]:
    """Each sortable column's header link: ascending, or descending when sorted ascending."""
    return {
        name: "?"
        + _query_string(request, sort=f"-{name}" if current == name else name, offset=None)
        for name in collection.sortable
    }


def _add_list_page(router: APIRouter, collection: Collection) -> None:
    query_model = list_query(collection)

    @router.get("")
    async def list_page_for_people(request: Request, database: DatabaseDep) -> Response:
        query = parse_query(request, query_model, empty_is_absent=True)
        json_only = sorted(query.model_fields_set & JSON_ONLY)
        if json_only:
            detail = f"pages do not take it; {API_PREFIX}{request.url.path} does"
            raise bad_parameter(json_only[0], detail)
        sort = parse_sort(collection, query.sort)
        facets = parse_facets(collection, query.facet) or list(collection.facets)
        with database.session() as session:
            window = list_window(
                session,
                collection,
                filters=query.filter_values(),
                sort=sort,
                limit=query.limit,
                offset=query.offset,
                where=query.where(collection),
                facets=facets,
            )
            items, total = list(window.items), window.total
            named = named_collections(collection)
            keys = [(named[f].name, v) for i in items for f in named for v in _values(i.get(f))]
            counted = window.facets or {}
            keys += [(named[f].name, c["value"]) for f in named for c in counted.get(f, [])]
            titles = titles_of(session, keys)
        filters = [
            n
            for n in query_model.model_fields
            if n not in ListQuery.model_fields and n not in query_model.condition_parameters
        ]
        offset, limit = query.offset, query.limit
        context = {
            "collection": collection,
            "items": items,
            "total": total,
            "columns": _columns(collection),
            "named": named,
            "titles": titles,
            "page_url": page_url,
            "entries": entries,
            "sort_links": _sort_links(request, collection, query.sort),
            "filters": [(name, request.query_params.get(name, "")) for name in filters],
            # What the form keeps of the page as it stands: its order and its length,
            # and the conditions and facets its form has no field for.
            "kept": [
                (n, v)
                for n, v in request.query_params.multi_items()
                if v and (n in ("sort", "limit", "facet") or n in query_model.condition_parameters)
            ],
            # Past the end, "previous" is the last page that shows something.
            "previous": "?"
            + _query_string(request, offset=min(max(offset - limit, 0), _last_offset(total, limit)))
            if offset > 0
            else None,
            "next": "?" + _query_string(request, offset=offset + limit)
            if offset + limit < total
            else None,
            "first": offset + 1 if items else 0,
            "last": offset + len(items),
            # The items as CSV: with a facet, the CSV would be its counts instead.
            "csv": f"{API_PREFIX}/{collection.name}?"
            + _query_string(request, format="csv", facet=None),
            "facets": _facet_links(request, query_model, counted),
            "applied": _applied(request, query_model),
        }
        shown = _query_string(request)
        alternate = f"{API_PREFIX}/{collection.name}" + (f"?{shown}" if shown else "")
        return page(request, "collection.html", context, alternate=alternate)


def _facet_links(
    request: Request, model: type[ListQuery], facets: dict[str, list[dict[str, Any]]]
) -> list[tuple[str, list[tuple[Any, int, str | None]]]]:
    """Each facet's values with their counts and the link that keeps only the items holding
    that value (`field=value`, or `field__has=value` for a list)."""
    shown = []
    for name, counts in facets.items():
        parameter = name if name in model.model_fields else f"{name}__has"
        values = [
            (c["value"], c["count"], _narrowed(request, parameter, c["value"]))
            for c in counts
            if c["value"] is not None
        ]
        shown.append((name, values))
    return shown


def _narrowed(request: Request, parameter: str, value: Any) -> str | None:
    """The link to the items whose field holds `value`; none for a value too long to ask for
    (a long text: the condition would refuse it)."""
    if len(str(value)) > MAX_VALUE_LENGTH:
        return None
    return "?" + _query_string(request, offset=None, **{parameter: value})


def _applied(request: Request, model: type[ListQuery]) -> list[tuple[str, str, str]]:
    """The conditions the page's query sets, each with the link that drops it."""
    base = set(ListQuery.model_fields)
    return [
        (name, value, "?" + _query_string(request, offset=None, **{name: None}))
        for name, value in request.query_params.items()
        if value != "" and name in model.model_fields and name not in base
    ]


def _last_offset(total: int, limit: int) -> int:
    return max((total - 1) // limit * limit, 0)


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _entity_context(
    session: Session, collection: Collection, entity: dict[str, Any]
) -> dict[str, Any]:
    keys = title_keys(entity, collection)
    embedded = {
        embed.field: [(BY_NAME[embed.collection], item) for item in entity.get(embed.field, [])]
        for embed in collection.embeds
    }
    context: dict[str, Any] = {
        "collection": collection,
        "entity": entity,
        "title": collection.title(entity),
        "embedded": embedded,
        "page_url": page_url,
        "collection_of": BY_NAME.__getitem__,
    }
    if collection is QUOTED and entity.get("text"):
        annotations, _ = source_annotations(
            session, entity["id"], limit=ANNOTATIONS_SHOWN, offset=0
        )
        keys += [(a["type"], a["key"]) for a in annotations]
        context["runs"] = marked_runs(entity["text"], annotations)
    titles = titles_of(session, keys)
    context["rows"] = field_rows(collection, entity, titles)
    context["titles"] = titles
    return context


def _render_entity(
    request: Request,
    session: Session,
    collection: Collection,
    entity: dict[str, Any] | None,
    key: str,
) -> Response:
    if entity is None:
        raise not_found(f"{collection.singular} {key!r}")
    model = collection.detail or collection.public
    context = _entity_context(session, collection, model.model_validate(entity).model_dump())
    alternate = url_of(collection, entity)
    return page(request, "entity.html", context, alternate=alternate)


def _add_entity_page(router: APIRouter, collection: Collection) -> None:
    @router.get(f"/{{{collection.path_param}}}")
    async def entity_page(
        request: Request,
        database: DatabaseDep,
        key: Annotated[str, Path(alias=collection.path_param, max_length=200)],
        _: Annotated[NoQuery, Query()],
    ) -> Response:
        with database.session() as session:
            entity = get_detail(session, collection, key)
            return _render_entity(request, session, collection, entity, key)


def _add_singleton_page(router: APIRouter, collection: Collection) -> None:
    @router.get("")
    async def the_entity_page(
        request: Request, database: DatabaseDep, _query: Annotated[NoQuery, Query()]
    ) -> Response:
        with database.session() as session:
            items, _ = list_page(session, collection, filters={}, limit=1)
            entity = get_detail(session, collection, items[0]["id"]) if items else None
            return _render_entity(request, session, collection, entity, collection.singular)


def collection_pages(collection: Collection) -> APIRouter:
    """`/<collection>` (a table, or a singleton's entity) and `/<collection>/{id}`."""
    router = APIRouter(prefix=f"/{collection.name}", include_in_schema=False)
    if collection.singleton:
        _add_singleton_page(router, collection)
    else:
        _add_list_page(router, collection)
    _add_entity_page(router, collection)
    return router
