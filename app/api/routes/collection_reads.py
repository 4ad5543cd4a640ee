"""The read routes of every collection, made by one factory from its `Collection`."""

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from app.api.dependencies import DatabaseDep, annotated, refuse_unknown_version
from app.api.parameters import (
    FieldsQuery,
    ItemQuery,
    PageQuery,
    documented_query,
    list_query,
    openapi_parameters,
    parse_query,
)
from app.api.problems import documented, not_found
from app.api.rendering import (
    Page,
    json_response,
    page_response,
    parse_cursor,
    parse_facets,
    parse_fields,
    parse_sort,
)
from app.api.urls import page_link, url_of
from app.data import history
from app.data.engine import Database
from app.data.reads import Entity, Window, get_detail, list_page, list_window
from app.data.registry import Collection
from app.data.tables import Operation


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
        openapi_extra={"parameters": openapi_parameters(query_model)},
    )
    async def list_items(request: Request, database: DatabaseDep) -> Response:
        query = parse_query(request, query_model)
        sort = parse_sort(collection, query.sort)
        fields = parse_fields(collection.public, query.fields)
        cursor = parse_cursor(collection, sort, query)
        facets = parse_facets(collection, query.facet)
        with database.session() as session:
            window = list_window(
                session,
                collection,
                filters=query.filter_values(),
                sort=sort,
                limit=query.limit,
                offset=query.offset,
                cursor=cursor,
                where=query.where(collection),
                facets=facets,
            )
        response = page_response(
            request,
            collection.public,
            window,
            limit=query.limit,
            fields=fields,
            format_=query.format,
        )
        # The page shows the same filters and order; cursors and fields are the API's own.
        shown = request.url.remove_query_params(["cursor", "fields", "format"]).query
        response.headers["Link"] += ", " + page_link(request.url.path, shown)
        return response


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


def as_of_model(collection: Collection) -> type[BaseModel]:
    """The shape of an entity as it stood at a past version: its detail's, less the related
    entities a detail embeds (the history holds each entity on its own)."""
    return collection.public if collection.embeds else collection.detail or collection.public


def _entity_as_of(database: Database, collection: Collection, key: str, as_of: int) -> Entity:
    with database.session() as session:
        refuse_unknown_version(session, as_of)
        record = history.entity_as_of(session, collection, key, as_of)
    if record is None:
        raise not_found(f"{collection.singular} {key!r} at version {as_of}")
    return {"sources": [], "derivations": [], **record}  # a source cites nothing itself


def _add_detail_route(router: APIRouter, collection: Collection) -> None:
    model = collection.detail or collection.public
    past_model = as_of_model(collection)
    item_query = documented_query(ItemQuery, fields_of=model)
    suffix = "_by_id" if collection.singleton else ""

    @router.get(
        f"/{{{collection.path_param}}}",
        # What a model made at start-up is, no static type can name.
        response_model=model if past_model is model else model | past_model,
        summary=f"Get a {collection.singular} by {collection.path_param}",
        operation_id=f"get_{identifier(collection.singular)}{suffix}",
        responses=documented(404),
    )
    @annotated(query=Annotated[item_query, Query()])
    async def get_item(
        database: DatabaseDep,
        key: Annotated[str, Path(alias=collection.path_param, max_length=200)],
        query: ItemQuery,
    ) -> Response:
        if query.as_of is not None:  # the entity alone: no embedded field to ask for
            fields = parse_fields(past_model, query.fields)
            past = _entity_as_of(database, collection, key, query.as_of)
            return json_response(past_model.model_validate(past), include=fields)
        fields = parse_fields(model, query.fields)
        with database.session() as session:
            entity = get_detail(session, collection, key)
        if entity is None:
            raise not_found(f"{collection.singular} {key!r}")
        link = page_link(url_of(collection, entity))
        return json_response(model.model_validate(entity), include=fields, headers={"Link": link})


class HistoryItem(BaseModel):
    version: int = Field(description="The dataset version this change made.")
    at: dt.datetime = Field(description="When the change was made (UTC).")
    op: Operation
    entity: dict[str, Any] | None = Field(
        description="The entity after the change, as the export holds it; null if deleted."
    )


HistoryQuery = documented_query(PageQuery, fields_of=HistoryItem)


def history_items(versions: Sequence[history.Version]) -> list[HistoryItem]:
    return [
        HistoryItem(version=v.version, at=history.utc(v.at), op=v.op, entity=v.entity)
        for v in versions
    ]


def _add_history_route(router: APIRouter, collection: Collection) -> None:
    @router.get(
        f"/{{{collection.path_param}}}/history",
        response_model=Page[HistoryItem],
        summary=f"Every version of a {collection.singular}, newest first",
        description="Kept after a delete: a deleted entity's history ends with its deletion.",
        operation_id=f"get_{identifier(collection.singular)}_history",
        responses=documented(404),
    )
    @annotated(query=Annotated[HistoryQuery, Query()])
    async def get_history(
        request: Request,
        database: DatabaseDep,
        key: Annotated[str, Path(alias=collection.path_param, max_length=200)],
        query: PageQuery,
    ) -> Response:
        with database.session() as session:
            versions, total = history.history_of(
                session, collection, key, limit=query.limit, offset=query.offset
            )
        if total == 0:
            raise not_found(f"{collection.singular} {key!r}")
        items = history_items(versions)
        return page_response(
            request,
            HistoryItem,
            Window.at_offset(items, total, query.offset),
            limit=query.limit,
            format_=query.format,
        )


def collection_router(collection: Collection) -> APIRouter:
    """`GET /<collection>` (a list, or a singleton's one entity), `GET /<collection>/{id}` and
    its history."""
    router = APIRouter(prefix=f"/{collection.name}", tags=[collection.name])
    if collection.singleton:
        _add_singleton_route(router, collection)
    else:
        _add_list_route(router, collection)
    _add_detail_route(router, collection)
    _add_history_route(router, collection)
    return router
