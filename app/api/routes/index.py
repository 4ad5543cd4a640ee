"""The API index: what the dataset is, and where everything is, for a client at `/`."""

from typing import Any

from app.config import API_PREFIX
from app.data.registry import COLLECTIONS

NAME = "China–Central Asia summit data"
DESCRIPTION = (
    "The facts of the China–Central Asia summits (the six countries, the summits, the agreements"
    " signed there, the cooperation centers, the trade figures and more), each value cited back"
    " to the words that state it."
)


def collection_url(name: str) -> str:
    return f"{API_PREFIX}/{name}"


def api_index(version: str) -> dict[str, Any]:
    """`{"name", "description", "version", "links"}`: every collection, the docs, the OpenAPI
    document, the export, the feed and the data package."""
    links = {c.name: collection_url(c.name) for c in COLLECTIONS}
    links |= {
        "timeline": f"{API_PREFIX}/timeline",
        "search": f"{API_PREFIX}/search?q={{words}}",
        "export": f"{API_PREFIX}/export",
        "feed": f"{API_PREFIX}/feed",
        "datapackage": f"{API_PREFIX}/datapackage.json",
        "docs": "/docs",
        "openapi": "/openapi.json",
    }
    return {"name": NAME, "description": DESCRIPTION, "version": version, "links": links}
