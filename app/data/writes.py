"""Create, replace, merge-patch and delete, for every collection: validation beyond the shape
of a body (references, citations, conflicts), the audit record, the new dataset version and the
search index, all in the caller's one transaction. Nothing HTTP here: failures are `WriteError`s.
"""

import contextlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.data import search
from app.data import tables as m
from app.data.citations import CitationError, resolve
from app.data.history import record_citers_of, record_version
from app.data.provenance import provenance_errors
from app.data.reads import Entity, as_record, get_entity, get_entity_count
from app.data.registry import QUOTED, Collection
from app.data.rows import (
    delete_entity,
    missing_references,
    record_change,
    referenced_columns,
    referrers,
    save_entity,
)

Method = m.WriteMethod
OPERATIONS: Mapping[Method, m.Operation] = {
    "POST": "create",
    "PUT": "update",
    "PATCH": "update",
    "DELETE": "delete",
}


@dataclass
class FieldError:
    pointer: str  # JSON Pointer into the request body
    detail: str


class WriteError(Exception):
    """A write refused: `kind` says how (the routes map it to a status), `detail` says why."""

    def __init__(
        self,
        kind: Literal["invalid", "not_found", "conflict"],
        detail: str,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = errors or []


@dataclass
class WriteResult:
    entity: Entity | None  # None after a delete
    version: int


def _with_natural_key_of(
    session: Session, collection: Collection, record: Mapping[str, Any]
) -> str | None:
    """The id of an entity with `record`'s natural key under another id (one the seed file
    chose, say), or None."""
    if not collection.natural_key:
        return None
    table = m.table_of(collection.table)
    columns = [name for name in collection.natural_key if name in table.c]
    candidates = select(table.c.id).where(*(table.c[name] == record[name] for name in columns))
    for candidate in session.scalars(candidates):
        entity = get_entity(session, collection, candidate)
        if entity is not None and all(
            _comparable(entity[name]) == _comparable(record[name])
            for name in collection.natural_key
        ):
            return str(candidate)
    return None


def _comparable(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def slugify(text: str) -> str:
    """`China–Central Asia: Poverty Reduction` → `china-central-asia-poverty-reduction`."""
    words = re.sub(r"[\W_]+", "-", text)  # dashes of any kind and punctuation part words
    ascii_text = unicodedata.normalize("NFKD", words).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:120].strip("-")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge member by member, null removes, the rest
    replaces."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = merge_patch(merged.get(name), value)
    return merged


def _summary(errors: list[FieldError]) -> str:
    return "; ".join(f"{e.pointer}: {e.detail}" for e in errors)


def _invalid_from(error: ValidationError) -> WriteError:
    errors = [FieldError("/" + "/".join(map(str, e["loc"])), e["msg"]) for e in error.errors()]
    return WriteError("invalid", _summary(errors), errors)


def _nul_pointers(value: Any, pointer: str = "") -> list[str]:
    """Where a text holds a NUL character, which no database column can store."""
    if isinstance(value, str):
        return [pointer or "/"] if "\x00" in value else []
    if isinstance(value, Mapping):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    return [p for key, item in items for p in _nul_pointers(item, f"{pointer}/{key}")]


def validate_record(collection: Collection, record: Mapping[str, Any]) -> Entity:
    """`record` checked against the collection's `In` model, as a plain dict."""
    nul = _nul_pointers(record)
    if nul:
        errors = [FieldError(p, "contains a NUL character") for p in nul]
        raise WriteError("invalid", f"{nul[0]}: contains a NUL character", errors)
    try:
        model: BaseModel = collection.create.model_validate(record)
    except ValidationError as error:
        raise _invalid_from(error) from None
    entity = model.model_dump(exclude={"text_file"})
    for link in collection.lists:
        entity[link.field] = sorted(set(entity[link.field]))
    unsupported = [
        FieldError("/" + "/".join(map(str, error.path)), error.detail)
        for error in provenance_errors(collection, entity)
    ]
    if unsupported:
        raise WriteError("invalid", _summary(unsupported), unsupported)
    return entity


def _resolve_citations(session: Session, entity: Entity) -> None:
    if "sources" not in entity:
        return
    texts = dict(session.exec(select(m.Source.id, m.Source.text)).all())
    speakers = {c["said_by"] for c in entity["sources"] if c.get("said_by") is not None}
    people = set(session.exec(select(m.Person.id).where(col(m.Person.id).in_(speakers))).all())
    resolved, errors = [], []
    for index, citation in enumerate(entity["sources"]):
        try:
            resolved.append(resolve(m.CitationIn.model_validate(citation), texts).model_dump())
        except CitationError as error:
            errors.append(FieldError(f"/sources/{index}", error.reason))
        said_by = citation.get("said_by")
        if said_by is not None and said_by not in people:
            pointer = f"/sources/{index}/said_by"
            errors.append(FieldError(pointer, f"there is no person {said_by!r}"))
    if errors:
        raise WriteError("invalid", _summary(errors), errors)
    entity["sources"] = resolved


def _check_references(session: Session, collection: Collection, entity: Entity) -> None:
    missing = missing_references(session, collection, entity)
    if missing:
        errors = [
            FieldError(f"/{name}", f"there is no {what} {value!r}") for name, value, what in missing
        ]
        raise WriteError("invalid", _summary(errors), errors)


def _check_citations_of_source(session: Session, entity: Entity) -> None:
    """A source's text may change only if every quote citing it still stands where it did."""
    text = entity.get("text")
    citing = session.exec(select(m.Citation).where(m.Citation.source_id == entity["id"])).all()
    broken = [
        f"{c.collection} {c.entity_id!r}"
        for c in citing
        # a source with text takes quotes, one without takes none
        if (c.quote is None) != (text is None)
        or (c.quote is not None and text is not None and text[c.start : c.end] != c.quote)
    ]
    if broken:
        raise WriteError(
            "conflict",
            f"the new text would break the citations of {', '.join(sorted(set(broken)))}",
        )


def _check_unique(session: Session, collection: Collection, entity: Entity) -> None:
    """A value another entity holds in a unique column (a summit's number, a country's iso2)."""
    table = m.table_of(collection.table)
    for column in table.columns:
        if column.unique and not column.primary_key and entity.get(column.name) is not None:
            holder = session.exec(
                select(table.c.id).where(column == entity[column.name], table.c.id != entity["id"])
            ).first()
            if holder is not None:
                raise WriteError(
                    "conflict",
                    f"{collection.singular} {holder!r} already has {column.name}"
                    f" {entity[column.name]!r}",
                )


def _check_referenced_keys(
    session: Session, collection: Collection, before: Entity | None, after: Entity
) -> None:
    """A value others refer to (a summit's number) may not change under them."""
    if before is None:
        return
    changed = {name for name in after if name != "id" and before.get(name) != after[name]}
    blockers = referrers(session, collection, before, columns=changed)
    if blockers:
        names = ", ".join(sorted(changed & referenced_columns(collection)))
        raise WriteError(
            "conflict", f"{names} cannot change: still referred to by {', '.join(blockers)}"
        )


def _check_rules(session: Session, collection: Collection, entity: Entity) -> None:
    errors = [
        FieldError(f"/{name}", detail)
        for rule in collection.rules
        for name, detail in rule(session, entity)
    ]
    if errors:
        raise WriteError("invalid", _summary(errors), errors)


def _save(session: Session, collection: Collection, entity: Entity, before: Entity | None) -> None:
    _check_unique(session, collection, entity)
    _check_referenced_keys(session, collection, before, entity)
    _check_references(session, collection, entity)
    _check_rules(session, collection, entity)
    _resolve_citations(session, entity)
    if collection is QUOTED:
        _check_citations_of_source(session, entity)
    try:
        save_entity(session, collection, entity)
    except IntegrityError as error:
        raise WriteError("conflict", f"refused by the database: {error.orig}") from None


def _existing(session: Session, collection: Collection, key: str) -> Entity:
    entity = get_entity(session, collection, key)
    if entity is None:
        raise WriteError("not_found", f"No {collection.singular} {key!r}.")
    return entity


def _prepare(
    session: Session, collection: Collection, method: Method, key: str | None, body: Any
) -> tuple[Entity | None, Entity | None]:
    """The entity before and after the write (None where there is none), validated."""
    if isinstance(body, Mapping) and body.get("text_file") is not None:
        # A path on the server is for the seed file only: a write must not read files.
        raise WriteError(
            "invalid",
            "text_file: not accepted in a write; send `text`",
            [FieldError("/text_file", "not accepted in a write; send `text`")],
        )
    if method == "POST":
        if collection.singleton and get_entity_count(session, collection):
            raise WriteError(
                "conflict", f"there is one {collection.singular} already: PUT or PATCH it"
            )
        record = dict(body)
        if record.get("id") is None:
            # Without what the id derives from, validation below names what is missing.
            with contextlib.suppress(KeyError, TypeError):
                record["id"] = slugify(collection.derived_id_source(record))
        after = validate_record(collection, record)
        if get_entity(session, collection, after["id"]) is not None:
            raise WriteError("conflict", f"{collection.singular} {after['id']!r} already exists")
        same = _with_natural_key_of(session, collection, after) if "id" not in body else None
        if same is not None:
            key_fields = ", ".join(collection.natural_key)
            raise WriteError(
                "conflict", f"{collection.singular} {same!r} has the same {key_fields} already"
            )
        return None, after
    assert key is not None
    before = _existing(session, collection, key)
    if method == "DELETE":
        return before, None
    current = as_record(collection, before)
    record = merge_patch(current, body) if method == "PATCH" else {"id": before["id"], **body}
    if record.get("id") != before["id"]:
        raise WriteError(
            "invalid", "id cannot change", [FieldError("/id", f"must be {before['id']!r}")]
        )
    return before, validate_record(collection, record)


def write(
    session: Session,
    collection: Collection,
    *,
    method: Method,
    key: str | None,
    body: Any,
    key_name: str,
) -> WriteResult:
    """Apply one write in `session`'s transaction and record it; raise `WriteError` if refused."""
    before, after = _prepare(session, collection, method, key, body)
    if after is None:
        assert before is not None
        blockers = referrers(session, collection, before)
        if blockers:
            raise WriteError("conflict", f"still referred to by {', '.join(blockers)}")
        delete_entity(session, collection, before["id"])
    else:
        _save(session, collection, after, before)
        after = get_entity(session, collection, after["id"])
    entity_id = (after or before or {})["id"]
    record = None if after is None else as_record(collection, after)
    version = record_version(
        session,
        collection,
        op=OPERATIONS[method],
        entity_id=entity_id,
        key=(after or before or {})[collection.url_key],
        record=record,
    )
    if collection is QUOTED and before is not None and after is not None:
        record_citers_of(session, entity_id)
    search.reindex_entity(session, collection, entity_id, after)
    record_change(
        session,
        key_name=key_name,
        method=method,
        collection=collection,
        entity_id=entity_id,
        before=None if before is None else as_record(collection, before),
        after=record,
        version=version,
    )
    return WriteResult(entity=after, version=version)
