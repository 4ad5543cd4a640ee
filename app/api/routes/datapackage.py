"""`GET /api/v1/datapackage.json`: a Frictionless Data Package (v2) of the CSV exports, one
resource per collection, each with its Table Schema: field types, primary key, foreign keys."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.parameters import NoQuery
from app.data.registry import COLLECTIONS, QUOTED, Collection, Reference, references_of

router = APIRouter(tags=["dataset"])

PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
TABLE_SCHEMA_PROFILE = "https://datapackage.org/profiles/2.0/tableschema.json"
# How the CSV export writes a list of codes or names in one cell (`app.api.rendering`).
LIST_DELIMITER = "; "
# An object (a country's `names`) is written as JSON in its cell, as Table Schema's `object` is.
JSON_SCHEMA_TYPES = {
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "object": "object",
}


def _field_type(schema: dict[str, Any]) -> dict[str, Any]:
    """The Table Schema type of a field whose JSON Schema (of the public shape) is `schema`."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    chosen = options[0] if options else {}
    if chosen.get("type") == "array":
        items = chosen.get("items", {})
        if "$ref" in items or items.get("type") == "object":
            return {"type": "string"}  # citations or derivations: one to a line, in words
        return {"type": "list", "delimiter": LIST_DELIMITER, "itemType": "string"}
    if chosen.get("format") == "date":
        return {"type": "date"}
    return {"type": JSON_SCHEMA_TYPES.get(chosen.get("type", ""), "string")}


def _table_schema(collection: Collection) -> dict[str, Any]:
    model: type[BaseModel] = collection.public
    properties = model.model_json_schema()["properties"]
    fields = [
        {"name": name, **_field_type(properties[name]), **_description(model, name)}
        for name in model.model_fields
    ]
    foreign_keys = [
        {
            "fields": [reference.field],
            "reference": _reference(collection, reference),
        }
        for reference in references_of(collection)
    ]
    return {
        "$schema": TABLE_SCHEMA_PROFILE,
        "fields": fields,
        "missingValues": [""],
        "primaryKey": ["id"],
        **({"foreignKeys": foreign_keys} if foreign_keys else {}),
    }


def _reference(collection: Collection, reference: Reference) -> dict[str, Any]:
    # Without `resource`, a reference is to the same resource (Table Schema v2).
    to_other = reference.collection is not collection
    return {
        **({"resource": reference.collection.name} if to_other else {}),
        "fields": [reference.target_field],
    }


def _description(model: type[BaseModel], name: str) -> dict[str, str]:
    description = model.model_fields[name].description
    return {"description": description} if description else {}


def data_package() -> dict[str, Any]:
    """The package. Each resource's `path` is relative to the package's own URL
    (`export/countries` from `/api/v1/datapackage.json` is `/api/v1/export/countries`): a Data
    Package path is a URL or a relative path, and a URL made from the request's Host header
    would repeat whatever host a client sent."""
    return {
        "$schema": PACKAGE_PROFILE,
        "name": "china-central-asia-summits",
        "title": "China–Central Asia summits: the facts, each cited to its words",
        "description": "Every collection of the API as CSV, one resource each. Each row's"
        " `sources` and `derivations` say what supports each value.",
        "sources": [{"title": f"The {QUOTED.name} collection: the article and reference sources"}],
        "resources": [
            {
                "name": collection.name,
                "title": collection.description or collection.name,
                "path": f"export/{collection.name}",
                "type": "table",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": _table_schema(collection),
            }
            for collection in COLLECTIONS
        ],
    }


@router.get(
    "/datapackage.json",
    summary="A Frictionless Data Package of the CSV exports",
    description="Data Package v2: one CSV resource per collection (`path` its"
    " `/api/v1/export/<collection>` URL) with its Table Schema.",
    operation_id="get_datapackage",
)
async def get_datapackage(_: Annotated[NoQuery, Query()]) -> JSONResponse:
    return JSONResponse(data_package())
