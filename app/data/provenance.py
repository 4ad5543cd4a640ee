"""Provenance: what supports each value of an entity. Pure functions: no database, no HTTP.

The coverage rule (API.md, "Provenance"): every field of a record that has a value, other than
its id and its free text, is named in the `fields` of at least one of its citations (`sources`)
or derivations. The seed loader and the writes both hold records to it with `provenance_errors`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.data.registry import Collection

# Fields no citation needs to support: the id, the free text, and provenance itself.
UNCITED_FIELDS = frozenset({"id", "description", "notes", "sources", "derivations"})
# Fields of a record that are not data about the entity (the seed file's pointer to a text).
NOT_RECORD_FIELDS = frozenset({"sources", "derivations", "text_file"})
# How much text a citation's `prefix` and `suffix` carry (W3C Web Annotation's TextQuoteSelector).
CONTEXT_LENGTH = 32


@dataclass(frozen=True)
class ProvenanceError:
    """A record's provenance that breaks the rule: `path` leads to the member at fault."""

    path: tuple[str | int, ...]
    detail: str


def record_fields(collection: Collection) -> list[str]:
    """The fields a citation or derivation of `collection` may name: those of its records."""
    return [name for name in collection.create.model_fields if name not in NOT_RECORD_FIELDS]


def has_value(value: Any) -> bool:
    """Whether a field states something: not null, not an empty list, text or object (a
    country's `names` in no language)."""
    return value is not None and value != [] and value != "" and value != {}


def valued_fields(collection: Collection, record: Mapping[str, Any]) -> list[str]:
    """The fields of `record` that state something and so need support."""
    return [
        name
        for name in record_fields(collection)
        if name not in UNCITED_FIELDS and has_value(record.get(name))
    ]


def provenance_errors(collection: Collection, record: Mapping[str, Any]) -> list[ProvenanceError]:
    """Fields that citations or derivations name but the record does not have, and valued
    fields that nothing supports. `record` is in the shape of the collection's `In` model."""
    if not collection.cited:
        return []
    known = record_fields(collection)
    errors: list[ProvenanceError] = []
    supported: set[str] = set()
    for kind in ("sources", "derivations"):
        for index, support in enumerate(record.get(kind) or []):
            for position, name in enumerate(support["fields"]):
                if name not in known:
                    detail = f"{name!r} is not a field of a {collection.singular}"
                    errors.append(ProvenanceError((kind, index, "fields", position), detail))
                supported.add(name)
    errors.extend(
        ProvenanceError(
            (name,), "no citation or derivation supports this value: name it in the fields of one"
        )
        for name in valued_fields(collection, record)
        if name not in supported
    )
    return errors


def context_of(text: str, start: int, end: int) -> tuple[str, str]:
    """The `prefix` and `suffix` of the quote at `text[start:end]`."""
    return text[max(start - CONTEXT_LENGTH, 0) : start], text[end : end + CONTEXT_LENGTH]


def is_pre_provenance(document: Mapping[str, Any]) -> bool:
    """Whether a data file is an export taken before citations named the fields they support:
    no record in it has `derivations`, and no citation has `fields`. Decided for the whole file,
    so that no record of a newer one can leave its support out and pass for old."""
    records = [r for rs in document.values() if isinstance(rs, Sequence) for r in rs]
    records = [r for r in records if isinstance(r, Mapping)]
    citations = [c for r in records if isinstance(r.get("sources"), Sequence) for c in r["sources"]]
    return not any("derivations" in r for r in records) and not any(
        isinstance(c, Mapping) and "fields" in c for c in citations
    )


def with_old_meaning(collection: Collection, record: Mapping[str, Any]) -> dict[str, Any]:
    """A pre-provenance record read as it was meant then: each citation supports the entity,
    that is every field the record gives a value (the meaning the migration gives them too)."""
    fields = valued_fields(collection, record) or ["id"]
    citations = record.get("sources")
    if not isinstance(citations, Sequence):
        return dict(record)  # validation says what is wrong with it
    upgraded = [{**c, "fields": fields} if isinstance(c, Mapping) else c for c in citations]
    return {**record, "sources": upgraded, "derivations": []}
