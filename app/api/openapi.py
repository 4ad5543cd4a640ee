"""The OpenAPI document, completed: examples drawn from the served data, and every error
documented as problem+json (FastAPI's default 422 for query validation is replaced by the 400
this API answers)."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic_core import to_jsonable_python
from sqlalchemy.exc import SQLAlchemyError

from app.api.problems import PROBLEM_MEDIA_TYPE, ProblemDetails
from app.api.rendering import CSV_CONTENT
from app.api.routes.annotations import Annotation
from app.api.routes.collection_reads import history_items
from app.api.routes.datapackage import data_package
from app.api.routes.dataset import SearchHit, TimelineEvent, search_hits, timeline_events
from app.api.routes.feed import feed_page
from app.api.urls import with_url
from app.config import API_PREFIX
from app.data import history
from app.data.engine import Database
from app.data.reads import get_detail, list_page, source_annotations, versioned_export
from app.data.registry import COLLECTIONS
from app.data.search import query_words


def _examples(database: Database) -> dict[str | tuple[str, str], Any]:
    """Per path, an example 200 body: the first page (of one) and the first entity's detail."""
    # An example body by path, and an example key by (path, "key").
    examples: dict[str | tuple[str, str], Any] = {}
    with database.session() as session:
        for collection in COLLECTIONS:
            items, total = list_page(session, collection, filters={}, limit=1)
            if not items:
                continue
            detail_model = collection.detail or collection.public
            detail = get_detail(session, collection, items[0]["id"])
            base = f"{API_PREFIX}/{collection.name}"
            example_item = detail_model.model_validate(detail).model_dump(mode="json")
            examples[f"{base}/{{{collection.path_param}}}"] = example_item
            examples[f"{base}/{{{collection.path_param}}}", "key"] = str(
                items[0][collection.url_key]
            )
            versions, total_versions = history.history_of(
                session, collection, str(items[0][collection.url_key]), limit=1, offset=0
            )
            examples[f"{base}/{{{collection.path_param}}}/history"] = {
                "items": [to_jsonable_python(v) for v in history_items(versions)],
                "total": total_versions,
                "limit": 1,
                "offset": 0,
            }
            if collection.singleton:
                examples[base] = example_item
            else:
                item = collection.public.model_validate(items[0]).model_dump(mode="json")
                examples[base] = {"items": [item], "total": total, "limit": 1, "offset": 0}
    return examples


def _dataset_examples(database: Database) -> dict[str | tuple[str, str], Any]:
    with database.session() as session:
        events = timeline_events(session)
        hits, total = search_hits(session, query_words("Astana"), limit=1, offset=0)
        document = versioned_export(session)
        annotations, annotated = source_annotations(session, "article", limit=1, offset=0)
    page = {"total": len(events), "limit": 1, "offset": 0}
    return {
        f"{API_PREFIX}/sources/{{id}}/annotations": {
            "items": [Annotation.model_validate(with_url(a)).model_dump() for a in annotations],
            "total": annotated,
            "limit": 1,
            "offset": 0,
        },
        f"{API_PREFIX}/timeline": {
            "items": [TimelineEvent.model_validate(e).model_dump() for e in events[:1]],
            **page,
        },
        f"{API_PREFIX}/search": {
            "items": [SearchHit.model_validate(hit).model_dump() for hit in hits],
            "total": total,
            "limit": 1,
            "offset": 0,
        },
        f"{API_PREFIX}/export": to_jsonable_python(document),
        f"{API_PREFIX}/datapackage.json": data_package(),
        f"{API_PREFIX}/feed": to_jsonable_python(feed_page(database, since=0, limit=1)),
    }


PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDetails"}
# What any operation may answer, whatever its own parameters: a repeated or unknown query
# parameter (400) and a query string over the limit (414).
COMMON_ERRORS = {
    "400": "Invalid query parameter: unknown, repeated or malformed",
    "414": "Query string too long",
}


# What any operation on the data may answer besides: past a rate limit (429, when RATE_LIMIT is
# set), and a database that cannot answer (503). Health checks and metrics are never limited.
DATA_ERRORS = {
    "429": "Too many requests: past RATE_LIMIT; retry after `Retry-After` seconds",
    "503": "The database cannot answer (unreachable, not migrated, or a query past"
    " QUERY_TIMEOUT_MS); retry after `Retry-After` seconds",
}


def _complete_responses(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    parameters = {p["name"]: p for p in operation.get("parameters", [])}
    if "format" in parameters:
        responses["200"]["content"]["text/csv"] = CSV_CONTENT
    if "requestBody" not in operation:
        responses.pop("422", None)  # this API answers 400 for query parameters
    for status, description in COMMON_ERRORS.items():
        responses.setdefault(status, {"description": description})
    if path.startswith(API_PREFIX):
        for status, description in DATA_ERRORS.items():
            responses.setdefault(status, {"description": description})
    if method == "get" and path.startswith(API_PREFIX):
        responses.setdefault("304", {"description": "Not Modified: the ETag still matches"})
    for status, response in responses.items():
        # Every error is a problem, but readiness's 503, which says what is missing.
        if status[0] in "45" and (path, status) != ("/readyz", "503"):
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}


SPARSE_NOTE = "With `fields`, only the fields asked for are present."


def _allow_sparse_fieldsets(schema: dict[str, Any]) -> None:
    """Fields of what an operation with `fields` answers are present only when asked for, so
    their schemas cannot require them."""
    components = schema["components"]["schemas"]

    def component(ref: str) -> dict[str, Any]:
        found: dict[str, Any] = components[ref.rsplit("/", 1)[1]]
        return found

    for operations in schema["paths"].values():
        for operation in operations.values():
            if not any(p["name"] == "fields" for p in operation.get("parameters", [])):
                continue
            answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
            # One shape, or either of two (a detail now, or as of a past version).
            for ref in [a["$ref"] for a in answer.get("anyOf", [answer])]:
                body = component(ref)
                item = (
                    body["properties"]["items"]["items"] if "items" in body["properties"] else None
                )
                target = component(item["$ref"]) if item else body
                target.pop("required", None)
                if SPARSE_NOTE not in target.get("description", ""):
                    target["description"] = f"{target.get('description', '')} {SPARSE_NOTE}".strip()


def install(app: FastAPI, database: Database) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        try:
            examples = _examples(database) | _dataset_examples(database)
        except SQLAlchemyError:
            examples = {}  # no data to draw from yet: a document without examples
        schema["components"]["schemas"]["ProblemDetails"] = ProblemDetails.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                _complete_responses(path, method, operation)
                if method == "get" and path in examples:
                    ok = operation["responses"]["200"]["content"]["application/json"]
                    ok["example"] = examples[path]
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path" and (path, "key") in examples:
                        parameter["example"] = examples[path, "key"]
        _allow_sparse_fieldsets(schema)
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        app.openapi_schema = schema
        return schema

    # Replacing the method is how FastAPI's docs extend the document ("Extending OpenAPI").
    app.openapi = openapi  # type: ignore[method-assign]
