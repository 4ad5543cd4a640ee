"""What supports each value, arranged for a page: per field its quotes and derivations, the
entities a field names, and a source's text cut into runs with every cited passage marked.
Pure functions over the entities the data layer reads."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from app.api.urls import page_path, url_of
from app.data import tables as m
from app.data.provenance import NOT_RECORD_FIELDS
from app.data.registry import Collection, named_collections

Entity = Mapping[str, Any]


def page_url(collection: Collection, key: Any) -> str:
    """The page of the entity of `collection` that `key` addresses."""
    return page_path(url_of(collection, {collection.url_key: key}))


def mark_id(citation: Mapping[str, Any]) -> str:
    """The id a link targets to reach a quote's mark on its source's page."""
    return f"q-{citation['start']}-{citation['end']}"


def linked(target: Collection, value: Any, titles: Mapping[tuple[str, Any], str]) -> dict[str, Any]:
    """A value naming an entity of `target`, as a link to its page."""
    return {"url": page_url(target, value), "text": titles.get((target.name, value), str(value))}


@dataclass(frozen=True)
class Entry:
    """One member of an object-valued field, as a page shows it: a country's name in one
    language, labelled with the language's name, and marked as written in that language."""

    key: str
    label: str
    text: str
    lang: str | None  # the language tag of `text`, where the key is one


def entries(value: Mapping[str, Any]) -> list[Entry]:
    """The members of an object-valued field, in its order."""
    languages = m.NAME_LANGUAGES
    return [
        Entry(key, languages.get(key, key), str(text), key if key in languages else None)
        for key, text in value.items()
    ]


@dataclass
class FieldRow:
    """One field of an entity's page: its value (as text, links or entries) and what supports
    it."""

    name: str
    value: Any
    links: list[dict[str, Any]] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    derivations: list[dict[str, Any]] = field(default_factory=list)


def field_rows(
    collection: Collection, entity: Entity, titles: Mapping[tuple[str, Any], str]
) -> list[FieldRow]:
    """Each field the entity's record has, in the record's order, with its support."""
    named = named_collections(collection)
    rows = []
    for name in collection.create.model_fields:
        if name in NOT_RECORD_FIELDS or name not in entity:
            continue
        value = entity[name]
        row = FieldRow(name, value)
        if name in named and value is not None:
            values = value if isinstance(value, list) else [value]
            row.links = [linked(named[name], v, titles) for v in values]
        elif isinstance(value, Mapping):
            row.entries = entries(value)
        row.quotes = [c for c in entity.get("sources", []) if name in c["fields"]]
        row.derivations = [d for d in entity.get("derivations", []) if name in d["fields"]]
        rows.append(row)
    return rows


def title_keys(entity: Entity, collection: Collection) -> list[tuple[str, Any]]:
    """The (collection, key) pairs of every entity the page of `entity` names: the entities its
    fields name, and the people its quotes are attributed to."""
    named = named_collections(collection)
    keys: list[tuple[str, Any]] = []
    for name, target in named.items():
        value = entity.get(name)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                keys.append((target.name, v))
    keys += [("people", c["said_by"]) for c in entity.get("sources", []) if c.get("said_by")]
    keys += [("sources", c["source"]) for c in entity.get("sources", [])]
    return keys


@dataclass
class Run:
    """A stretch of a source's text, and the citations that quote all of it."""

    text: str
    citations: list[dict[str, Any]]
    starting: list[dict[str, Any]]  # the citations whose quote begins here: their anchors
    ending: list[dict[str, Any]]  # those whose quote ends here: the links to what they support


def marked_runs(text: str, citations: Sequence[dict[str, Any]]) -> list[Run]:
    """`text` cut at every quote's start and end, so that overlapping quotes each keep their
    own marks: a run is marked when at least one quote holds it."""
    quoted = [c for c in citations if c.get("start") is not None]
    cuts = sorted({0, len(text), *(c["start"] for c in quoted), *(c["end"] for c in quoted)})
    runs = []
    for start, end in pairwise(cuts):
        holding = [c for c in quoted if c["start"] <= start and end <= c["end"]]
        # One anchor per passage, however many entities quote it: ids are unique on a page.
        anchors = {mark_id(c): c for c in holding if c["start"] == start}
        runs.append(
            Run(
                text[start:end],
                holding,
                list(anchors.values()),
                # One link per entity whose quotes end here.
                list({(c["type"], c["key"]): c for c in holding if c["end"] == end}.values()),
            )
        )
    return runs
