"""Every write to the database, written once for all collections. Nothing HTTP here.

The caller owns the transaction: these functions only add to the session and flush, so that a
failure anywhere leaves nothing behind when the caller rolls back.
"""

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlmodel import Session, delete

from app import models as m
from app.collections import Collection
from app.queries import Entity, get_entity


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def _table_values(collection: Collection, entity: Entity) -> dict[str, Any]:
    columns = collection.table.model_fields
    return {name: value for name, value in entity.items() if name in columns}


def _is_same(current: Entity, new: Entity) -> bool:
    return all(current.get(name) == value for name, value in new.items())


def save_entity(session: Session, collection: Collection, entity: Entity) -> Change:
    """Create or replace `entity` (a validated record with resolved citations), by its id.

    `entity` holds the table's columns, each list-valued field as a list of ids, and `sources`
    as citations with offsets. An entity equal to the stored one is left alone.
    """
    current = get_entity(session, collection, entity["id"])
    if current is not None and _is_same(current, entity):
        return Change.UNCHANGED
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
    session.exec(
        delete(m.Citation).where(
            m.Citation.collection == collection.name, m.Citation.entity_id == entity["id"]
        )
    )
    for position, citation in enumerate(entity.get("sources", [])):
        session.add(
            m.Citation(
                collection=collection.name,
                entity_id=entity["id"],
                position=position,
                source_id=citation["source"],
                quote=citation["quote"],
                start=citation["start"],
                end=citation["end"],
            )
        )
    session.flush()
    return Change.CREATED if current is None else Change.UPDATED


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
