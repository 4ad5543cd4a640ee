"""The write routes of every collection, made by one factory: POST, PUT, PATCH, DELETE. The
key is checked by `app.middleware.write_gate` before any of these run; `app.data.writes` does
the work."""

from copy import copy
from types import GenericAlias
from typing import Annotated, Any, get_args, get_origin

from fastapi import APIRouter, Body, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy.exc import IntegrityError

from app.api.dependencies import DatabaseDep, KeyNameDep, annotated
from app.api.problems import documented
from app.api.rendering import json_response
from app.api.routes.collection_reads import identifier
from app.api.urls import url_of
from app.data.registry import Collection
from app.data.writes import Method, WriteError, write

WRITE_ERRORS = documented(401, 403, 404, 409, 413, 415, 422)


def _create_body(collection: Collection) -> type[BaseModel]:
    """The collection's `In` model with `id` optional: POST derives it, PUT takes the URL's."""
    derived_from = ", ".join(f"`{name}`" for name in collection.natural_key) or "the name or title"
    derived = (
        f"Derived from {derived_from} if omitted (a slug); a POST of an id that exists is 409."
    )
    overrides: dict[str, Any] = {"id": (str | None, Field(None, description=derived))}
    if "text_file" in collection.create.model_fields:  # the seed file's, never a write's
        overrides["text_file"] = (None, Field(None, description="Not accepted: send `text`."))
    return create_model(
        f"{collection.create.__name__}Body", __base__=collection.create, **overrides
    )


def _members_removable(annotation: Any) -> Any:
    """An object-valued field (a country's `names`) as a merge patch takes it: a member given
    `null` is removed, the others replace or add theirs."""
    if get_origin(annotation) is not dict:
        return annotation
    key, value = get_args(annotation)
    return GenericAlias(dict, (key, value | None))


def _patch_body(collection: Collection) -> type[BaseModel]:
    """A merge patch of the collection's record, as the server takes it: any of the record's
    fields and none other, each of its type, `null` only where the field may be null (it
    removes the value). Rules across fields are checked on the merged record."""
    fields: dict[str, Any] = {}
    for name, info in collection.create.model_fields.items():
        optional = copy(info)
        optional.default, optional.default_factory = None, None
        fields[name] = (_members_removable(info.annotation), optional)
    if "text_file" in fields:  # the seed file's, never a write's
        fields["text_file"] = (None, Field(None, description="Not accepted: send `text`."))
    return create_model(
        f"{collection.create.__name__}Patch",
        __config__=ConfigDict(extra="forbid"),
        __doc__="RFC 7396 merge patch: members replace, null removes, objects merge.",
        **fields,
    )


async def _apply(
    request: Request,
    database: DatabaseDep,
    collection: Collection,
    *,
    method: Method,
    key: str | None,
    body: Any,
    key_name: str,
) -> dict[str, Any] | None:
    try:
        with database.session(write=True) as session:
            result = write(
                session, collection, method=method, key=key, body=body, key_name=key_name
            )
    except IntegrityError:  # a reference checked as the write commits: named nothing by then
        raise WriteError(
            "invalid", "a reference of this record named nothing when the write committed"
        ) from None
    return result.entity


def write_router(collection: Collection) -> APIRouter:
    router = APIRouter(prefix=f"/{collection.name}", tags=[collection.name])
    body_model = _create_body(collection)
    patch_model = _patch_body(collection)
    public = collection.public
    name = identifier(collection.singular)
    KeyPath = Annotated[str, Path(alias=collection.path_param, max_length=200)]

    @router.post(
        "",
        status_code=201,
        response_model=public,
        summary=f"Create a {collection.singular}",
        operation_id=f"create_{name}",
        responses=WRITE_ERRORS,
    )
    @annotated(body=body_model)
    async def create_item(
        request: Request, database: DatabaseDep, key_name: KeyNameDep, body: BaseModel
    ) -> Response:
        entity = await _apply(
            request,
            database,
            collection,
            method="POST",
            key=None,
            body=body.model_dump(mode="json", exclude_unset=True),
            key_name=key_name,
        )
        assert entity is not None
        return json_response(
            public.model_validate(entity),
            status_code=201,
            headers={"Location": url_of(collection, entity)},
        )

    @router.put(
        f"/{{{collection.path_param}}}",
        response_model=public,
        summary=f"Replace a {collection.singular}",
        operation_id=f"replace_{name}",
        responses=WRITE_ERRORS,
    )
    @annotated(body=body_model)
    async def replace_item(
        request: Request, database: DatabaseDep, key_name: KeyNameDep, key: KeyPath, body: BaseModel
    ) -> Response:
        entity = await _apply(
            request,
            database,
            collection,
            method="PUT",
            key=key,
            body=body.model_dump(mode="json", exclude_unset=True),
            key_name=key_name,
        )
        return json_response(public.model_validate(entity))

    @router.patch(
        f"/{{{collection.path_param}}}",
        response_model=public,
        summary=f"Change fields of a {collection.singular} (JSON merge patch)",
        operation_id=f"patch_{name}",
        responses=WRITE_ERRORS,
    )
    @annotated(patch=Annotated[patch_model, Body(media_type="application/merge-patch+json")])
    async def patch_item(
        request: Request,
        database: DatabaseDep,
        key_name: KeyNameDep,
        key: KeyPath,
        patch: Annotated[BaseModel, Body(media_type="application/merge-patch+json")],
    ) -> Response:
        entity = await _apply(
            request,
            database,
            collection,
            method="PATCH",
            key=key,
            body=patch.model_dump(mode="json", exclude_unset=True),
            key_name=key_name,
        )
        return json_response(public.model_validate(entity))

    @router.delete(
        f"/{{{collection.path_param}}}",
        status_code=204,
        summary=f"Delete a {collection.singular}",
        operation_id=f"delete_{name}",
        responses=documented(401, 404, 409),
    )
    async def delete_item(
        request: Request, database: DatabaseDep, key_name: KeyNameDep, key: KeyPath
    ) -> Response:
        await _apply(
            request,
            database,
            collection,
            method="DELETE",
            key=key,
            body=None,
            key_name=key_name,
        )
        return Response(status_code=204)

    return router
