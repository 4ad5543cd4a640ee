"""The list and detail routes of every collection, made by one factory."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.collections import Collection, FieldsQuery
from app.deps import DatabaseDep
from app.problems import documented, not_found
from app.queries import get_detail, list_page
from app.rendering import Page, json_response, page_response, parse_fields, parse_sort


def _operation(collection: Collection) -> str:
    return collection.name.replace("-", "_")


def collection_router(collection: Collection) -> APIRouter:
    """`GET /<collection>` and `GET /<collection>/{id}` for `collection`."""
    router = APIRouter(prefix=f"/{collection.name}", tags=[collection.name])
    detail_model = collection.detail or collection.public
    list_query = collection.query

    if collection.singleton:

        @router.get(
            "",
            response_model=detail_model,
            summary=f"Get the {collection.name}",
            description=collection.description,
            operation_id=f"get_the_{_operation(collection)}",
            responses=documented(400, 404),
        )
        async def get_the_item(
            database: DatabaseDep, query: Annotated[FieldsQuery, Query()]
        ) -> Response:
            fields = parse_fields(detail_model, query.fields)
            with database.session() as session:
                items, _ = list_page(session, collection, filters={}, limit=1)
            if not items:
                raise not_found(collection.name)
            return json_response(detail_model.model_validate(items[0]), include=fields)

    else:

        @router.get(
            "",
            response_model=Page[collection.public],  # type: ignore[name-defined]
            summary=f"List {collection.name}",
            description=collection.description,
            operation_id=f"list_{_operation(collection)}",
            responses=documented(400),
        )
        async def list_items(
            request: Request,
            database: DatabaseDep,
            query: Annotated[list_query, Query()],  # type: ignore[valid-type]
        ) -> Response:
            sort = parse_sort(collection, query.sort)
            fields = parse_fields(collection.public, query.fields)
            with database.session() as session:
                items, total = list_page(
                    session,
                    collection,
                    filters=query.filter_values(),
                    sort=sort,
                    limit=query.limit,
                    offset=query.offset,
                )
            return page_response(
                request,
                collection.public,
                items,
                total=total,
                limit=query.limit,
                offset=query.offset,
                fields=fields,
            )

    @router.get(
        f"/{{{collection.path_param}}}",
        response_model=detail_model,
        summary=f"Get one of {collection.name}",
        operation_id=f"get_{_operation(collection)}",
        responses=documented(400, 404),
    )
    async def get_item(
        database: DatabaseDep,
        key: Annotated[str, Path(alias=collection.path_param, max_length=200)],
        query: Annotated[FieldsQuery, Query()],
    ) -> Response:
        fields = parse_fields(detail_model, query.fields)
        with database.session() as session:
            entity = get_detail(session, collection, key)
        if entity is None:
            raise not_found(f"{collection.name} entry {key!r}")
        return json_response(detail_model.model_validate(entity), include=fields)

    return router
