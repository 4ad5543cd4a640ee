"""The read routes of every collection, made by one factory from its `Collection`."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.api.dependencies import DatabaseDep, annotated
from app.api.parameters import FieldsQuery, ListQuery, documented_query, list_query
from app.api.problems import documented, not_found
from app.api.rendering import (
    Page,
    json_response,
    page_response,
    parse_cursor,
    parse_fields,
    parse_sort,
)
from app.data.reads import get_detail, list_page, list_window
from app.data.registry import Collection


def identifier(name: str) -> str:
    return name.replace("-", "_").replace(" ", "_")


def _add_list_route(router: APIRouter, collection: Collection) -> None:
    query_model = list_query(collection)

    @router.get(
        "",
        # The envelope of the collection's own model, made at start-up.
        response_model=Page[collection.public],  # type: ignore[name-defined]
        summary=f"List {collection.name.replace('-', ' ')}",
        description=collection.description,
        operation_id=f"list_{identifier(collection.name)}",
    )
    @annotated(query=Annotated[query_model, Query()])
    async def list_items(request: Request, database: DatabaseDep, query: ListQuery) -> Response:
        sort = parse_sort(collection, query.sort)
        fields = parse_fields(collection.public, query.fields)
        cursor = parse_cursor(collection, sort, query)
        with database.session() as session:
            window = list_window(
                session,
                collection,
                filters=query.filter_values(),
                sort=sort,
                limit=query.limit,
                offset=query.offset,
                cursor=cursor,
            )
        return page_response(
            request,
            collection.public,
            window,
            limit=query.limit,
            fields=fields,
            format_=query.format,
        )


def _add_singleton_route(router: APIRouter, collection: Collection) -> None:
    model = collection.detail or collection.public
    item_query = documented_query(FieldsQuery, fields_of=model)

    @router.get(
        "",
        response_model=model,
        summary=f"Get the {collection.singular}",
        description=collection.description,
        operation_id=f"get_{identifier(collection.singular)}",
        responses=documented(404),
    )
    @annotated(query=Annotated[item_query, Query()])
    async def get_the_item(database: DatabaseDep, query: FieldsQuery) -> Response:
        fields = parse_fields(model, query.fields)
        with database.session() as session:
            items, _ = list_page(session, collection, filters={}, limit=1)
        if not items:
            raise not_found(collection.singular)
        return json_response(model.model_validate(items[0]), include=fields)


def _add_detail_route(router: APIRouter, collection: Collection) -> None:
    model = collection.detail or collection.public
    item_query = documented_query(FieldsQuery, fields_of=model)
    suffix = "_by_id" if collection.singleton else ""

    @router.get(
        f"/{{{collection.path_param}}}",
        response_model=model,
        summary=f"Get a {collection.singular} by {collection.path_param}",
        operation_id=f"get_{identifier(collection.singular)}{suffix}",
        responses=documented(404),
    )
    @annotated(query=Annotated[item_query, Query()])
    async def get_item(
        database: DatabaseDep,
        key: Annotated[str, Path(alias=collection.path_param, max_length=200)],
        query: FieldsQuery,
    ) -> Response:
        fields = parse_fields(model, query.fields)
        with database.session() as session:
            entity = get_detail(session, collection, key)
        if entity is None:
            raise not_found(f"{collection.singular} {key!r}")
        return json_response(model.model_validate(entity), include=fields)


def collection_router(collection: Collection) -> APIRouter:
    """`GET /<collection>` (a list, or a singleton's one entity) and `GET /<collection>/{id}`."""
    router = APIRouter(prefix=f"/{collection.name}", tags=[collection.name])
    if collection.singleton:
        _add_singleton_route(router, collection)
    else:
        _add_list_route(router, collection)
    _add_detail_route(router, collection)
    return router
