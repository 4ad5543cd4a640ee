"""The URLs of entities. Made here, in the API layer, only: the data layer knows each entity by
its collection and key, never by where the API serves it."""

from collections.abc import Mapping
from typing import Any

from app.config import API_PREFIX
from app.data.registry import BY_NAME, Collection


def url_of(collection: Collection, entity: Mapping[str, Any]) -> str:
    """The API path of an entity (a singleton's is the collection's own path)."""
    if collection.singleton:
        return f"{API_PREFIX}/{collection.name}"
    return f"{API_PREFIX}/{collection.name}/{entity[collection.url_key]}"


def with_url(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row the data layer names an entity in, by `type` (its collection) and `key` (what
    addresses it: its id, a summit's number), with that entity's `url` added."""
    collection = BY_NAME[row["type"]]
    return {**row, "url": url_of(collection, {collection.url_key: row["key"]})}


def page_path(api_path: str) -> str:
    """The page for people of what an API path serves: the same path without the prefix."""
    return api_path.removeprefix(API_PREFIX)


def page_link(api_path: str, query: str = "") -> str:
    """The `Link` to the page for people of what an API path serves, for a JSON answer."""
    target = page_path(api_path) + (f"?{query}" if query else "")
    return f'<{target}>; rel="alternate"; type="text/html"'
