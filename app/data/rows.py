"""Every write to the database, written once for all collections. Nothing HTTP here.

The caller owns the transaction: these functions only add to the session and flush, so that a
failure anywhere leaves nothing behind when the caller rolls back.
"""

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python
from sqlalchemy import Table
from sqlmodel import Session, delete, select

from app.data import tables as m
from app.data.reads import Entity, get_entity
from app.data.registry import BY_TABLE, LIST_BY_TABLE, Collection


class Outcome(StrEnum):
    """What saving an entity did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def _table_values(collection: Collection, entity: Entity) -> dict[str, Any]:
    columns = collection.table.model_fields
    return {name: value for name, value in entity.items() if name in columns}


def _is_same(current: Entity, new: Entity) -> bool:
    return all(current.get(name) == value for name, value in new.items())


def save_entity(session: Session, collection: Collection, entity: Entity) -> Outcome:
    """Create or replace `entity` (a validated record with resolved citations), by its id.

    `entity` holds the table's columns, each list-valued field as a list of ids, and `sources`
    as citations with offsets. An entity equal to the stored one is left alone.
    """
    current = get_entity(session, collection, entity["id"])
    if current is not None and _is_same(current, entity):
        return Outcome.UNCHANGED
    row = session.get(collection.table, entity["id"])
    values = _table_values(collection, entity)
    if row is None:
        session.add(collection.table(**values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    for link in collection.lists:
        owner = getattr(link.table, link.owner)
        session.exec(delete(link.table).where(owner == entity["id"]))
        for value in sorted(set(entity.get(link.field, []))):
            session.add(link.table(**{link.owner: entity["id"], link.value: value}))
    _delete_provenance(session, collection, entity["id"])
    _add_provenance(session, collection, entity)
    session.flush()
    return Outcome.CREATED if current is None else Outcome.UPDATED


def _add_provenance(session: Session, collection: Collection, entity: Entity) -> None:
    """Store the entity's citations and derivations, a row each, in their order."""
    for table, member in ((m.Citation, "sources"), (m.Derivation, "derivations")):
        columns = table.model_fields
        for position, item in enumerate(entity.get(member, [])):
            values = {name: value for name, value in item.items() if name in columns}
            if "source" in item:
                values["source_id"] = item["source"]
            session.add(
                table(
                    collection=collection.name, entity_id=entity["id"], position=position, **values
                )
            )


def _delete_provenance(session: Session, collection: Collection, entity_id: str) -> None:
    """Delete the citations and derivations of an entity (they are keyed by collection name
    and id, not by foreign key, so nothing cascades to them)."""
    for model in (m.Citation, m.Derivation):
        table = m.table_of(model)
        session.exec(
            delete(table).where(
                table.c.collection == collection.name, table.c.entity_id == entity_id
            )
        )


def bump_version(session: Session) -> int:
    """Move the dataset version on, so that every cached answer is known to be stale."""
    now = dt.datetime.now(dt.UTC)
    row = session.get(m.DatasetVersion, 1)
    if row is None:
        row = m.DatasetVersion(id=1, version=1, updated_at=now)
        session.add(row)
    else:
        row.version += 1
        row.updated_at = now
    session.flush()
    return row.version


def delete_entity(session: Session, collection: Collection, entity_id: str) -> None:
    """Delete an entity with its citations and derivations; its own association rows go with
    it (CASCADE)."""
    _delete_provenance(session, collection, entity_id)
    session.exec(delete(collection.table).where(collection.id_column == entity_id))
    session.flush()


def _describe_referrer(table: Table, row: Any, column: str) -> str:
    """`agreements 'treaty-…' (signatories)`: what a row referring to an entity belongs to."""
    if table is m.table_of(m.Citation):
        role = "quotes them" if column == "said_by" else "cites it"
        return f"{row.collection} {row.entity_id!r} ({role})"
    if table in BY_TABLE:
        return f"{BY_TABLE[table].name} {row.id!r} ({column})"
    if table in LIST_BY_TABLE:
        collection, link = LIST_BY_TABLE[table]
        return f"{collection.name} {getattr(row, link.owner)!r} ({link.field})"
    return f"{table.name} ({column})"


def _incoming_keys(collection: Collection) -> list[tuple[Table, Any]]:
    """The foreign keys of other rows that point at `collection`'s table, as (table, key);
    rows that belong to the entity itself (ON DELETE CASCADE) excluded."""
    target = m.table_of(collection.table)
    return [
        (table, key)
        for table in m.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column.table is target and key.ondelete != "CASCADE"
    ]


def referenced_columns(collection: Collection) -> set[str]:
    """The columns of `collection` that others refer to (an id, a summit's number)."""
    return {key.column.name for _, key in _incoming_keys(collection)}


def referrers(
    session: Session,
    collection: Collection,
    entity: Entity,
    *,
    columns: set[str] | None = None,
) -> list[str]:
    """Everything that refers to `entity` (through any column, or only through `columns`) and
    would be orphaned by deleting it, or by changing those columns.

    Found from the schema's foreign keys, so a new relation is covered without code here.
    """
    found: list[str] = []
    for table, key in _incoming_keys(collection):
        if columns is not None and key.column.name not in columns:
            continue
        rows = session.connection().execute(
            sa.select(table).where(key.parent == entity[key.column.name])
        )
        found.extend(_describe_referrer(table, row, key.parent.name) for row in rows)
    return sorted(set(found))


def missing_references(
    session: Session, collection: Collection, entity: Entity, *, deferred_only: bool = False
) -> list[tuple[str, Any, str]]:
    """The fields of `entity` that name nothing (a host country, a signatory, a summit number
    that does not exist), as (field, value, what it should name); with `deferred_only`, only
    those the database checks at commit rather than as each row is written."""
    checks: list[tuple[str, Any, Any]] = []  # (field, value, referred column)
    for key in m.table_of(collection.table).foreign_keys:
        value = entity.get(key.parent.name)
        if value is not None and (key.deferrable or not deferred_only):
            checks.append((key.parent.name, value, key.column))
    # An association table's keys are never deferred.
    for link in () if deferred_only else collection.lists:
        (key,) = [k for k in m.table_of(link.table).foreign_keys if k.parent.name == link.value]
        checks.extend((link.field, value, key.column) for value in entity.get(link.field, []))
    return [
        (name, value, _singular_of(column.table))
        for name, value, column in checks
        if session.exec(select(column).where(column == value)).first() is None
    ]


def _singular_of(table: Table) -> str:
    return BY_TABLE[table].singular if table in BY_TABLE else table.name


def record_change(
    session: Session,
    *,
    key_name: str,
    method: m.WriteMethod,
    collection: Collection,
    entity_id: str,
    before: Entity | None,
    after: Entity | None,
    version: int,
) -> m.Change:
    change = m.Change(
        at=dt.datetime.now(dt.UTC),
        key_name=key_name,
        method=method,
        collection=collection.name,
        entity_id=entity_id,
        before=None if before is None else to_jsonable_python(before),
        after=None if after is None else to_jsonable_python(after),
        dataset_version=version,
    )
    session.add(change)
    session.flush()
    return change
