"""The public history of every entity: each change, at the dataset version it made, with the
entity as the export holds it after the change. It serves the change feed, `changed_since`, an
entity's history and `as_of`. Nothing HTTP here.

Writers queue on one lock (`app.data.engine.session_scope`), so version n+1 is made only after
version n has been committed: a reader sees the versions in order, never n+1 without n.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from app.data import tables as m
from app.data.notifier import notify_writers
from app.data.reads import Entity, as_record, dataset_version, get_entity, sort_keys
from app.data.registry import BY_NAME, COLLECTIONS, Collection
from app.data.rows import bump_version

Version = m.EntityVersion


def record_version(
    session: Session,
    collection: Collection,
    *,
    op: m.Operation,
    entity_id: str,
    key: Any,
    record: Entity | None,
) -> int:
    """Move the dataset version on by one for a change to one entity, and keep that change:
    `record` is the entity after it, as the export holds it (None after a delete)."""
    version = bump_version(session)
    session.add(
        Version(
            version=version,
            at=dt.datetime.now(dt.UTC),
            op=op,
            collection=collection.name,
            entity_id=entity_id,
            key=str(key),
            entity=None if record is None else to_jsonable_python(record),
        )
    )
    session.flush()
    notify_writers(session)
    return version


def record_citers_of(session: Session, source_id: str) -> None:
    """After a source's text changed: each entity quoting it whose record changed with it (a
    quote's `prefix` and `suffix` are cut from the text) gets a version of its own, so that the
    feed still gives the export."""
    citation = m.table_of(m.Citation).c
    citing = session.connection().execute(
        select(citation.collection, citation.entity_id)
        .where(citation.source_id == source_id)
        .distinct()
    )
    for name, entity_id in sorted(citing):
        collection = BY_NAME[name]
        entity = get_entity(session, collection, entity_id)
        assert entity is not None  # its citation is there
        record = as_record(collection, entity)
        latest = session.exec(
            select(Version.entity)
            .where(Version.collection == name, Version.entity_id == entity_id)
            .order_by(col(Version.version).desc())
            .limit(1)
        ).first()
        if latest != to_jsonable_python(record):
            record_version(
                session,
                collection,
                op="create" if latest is None else "update",
                entity_id=entity_id,
                key=entity[collection.url_key],
                record=record,
            )


def utc(at: dt.datetime) -> dt.datetime:
    """A stored time as UTC: SQLite gives it back without its zone."""
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)


def changes_since(session: Session, since: int, *, limit: int) -> list[Version]:
    """Up to `limit` changes after version `since`, oldest first."""
    statement = select(Version).where(Version.version > since)
    return list(session.exec(statement.order_by(col(Version.version)).limit(limit)))


def changed_after(collection: Collection, version: int) -> ColumnElement[bool]:
    """The condition on `collection`'s table: entities changed after `version`."""
    changed = select(Version.entity_id).where(
        Version.collection == collection.name, col(Version.version) > version
    )
    return collection.id_column.in_(changed)


def _entity_id(
    session: Session, collection: Collection, key: str, *, up_to: int | None
) -> tuple[str | None, bool]:
    """The id of the entity `key` (from a URL) addresses, and whether it was found as the key
    the history holds (so that the entity may have held it then, not now): the entity that last
    held that key up to version `up_to` (one deleted since, a summit renumbered since), else
    the one the key finds now, by any form its detail takes (`kz` for KAZ, a summit's id)."""
    statement = select(Version.entity_id).where(
        Version.collection == collection.name, Version.key == key
    )
    if up_to is not None:
        statement = statement.where(col(Version.version) <= up_to)
    held = session.exec(statement.order_by(col(Version.version).desc()).limit(1)).first()
    if held is not None:
        return held, True
    current = session.exec(select(collection.id_column).where(collection.lookup(key))).first()
    return current, False


def history_of(
    session: Session, collection: Collection, key: str, *, limit: int, offset: int
) -> tuple[list[Version], int]:
    """Every version of the entity `key` addresses, newest first, and how many there are
    (none for an entity that never was)."""
    entity_id, _ = _entity_id(session, collection, key, up_to=None)
    condition = (Version.collection == collection.name, Version.entity_id == entity_id)
    total = session.exec(select(func.count()).select_from(Version).where(*condition)).one()
    statement = select(Version).where(*condition).order_by(col(Version.version).desc())
    return list(session.exec(statement.offset(offset).limit(limit))), total


def entity_as_of(session: Session, collection: Collection, key: str, version: int) -> Entity | None:
    """The entity `key` addresses as it stood at `version`, as the export holds it; None if it
    did not exist then."""
    entity_id, by_key_then = _entity_id(session, collection, key, up_to=version)
    if entity_id is None:
        return None
    statement = (
        select(Version)
        .where(
            Version.collection == collection.name,
            Version.entity_id == entity_id,
            col(Version.version) <= version,
        )
        .order_by(col(Version.version).desc())
        .limit(1)
    )
    latest = session.exec(statement).first()
    if latest is None or latest.entity is None or (by_key_then and latest.key != key):
        return None  # not there then, or holding another key by then
    return dict(latest.entity)


def _default_order(collection: Collection, records: list[Entity]) -> list[Entity]:
    names = [name for name, _ in sort_keys(collection, ())]
    # A missing value first, as the lists sort it (`app.data.paging.ordering`).
    return sorted(records, key=lambda r: [_null_first(r.get(n)) for n in names])


def _null_first(value: Any) -> tuple[bool, Any]:
    return (value is not None, 0 if value is None else value)


def export_as_of(session: Session, version: int) -> dict[str, Any]:
    """The whole dataset as it stood at `version`, in the export's shape: each collection in
    its default order."""
    latest = (
        select(Version.collection, Version.entity_id, func.max(Version.version).label("version"))
        .where(col(Version.version) <= version)
        .group_by(col(Version.collection), col(Version.entity_id))
        .subquery()
    )
    statement = select(Version.collection, Version.entity).join(
        latest, col(Version.version) == latest.c.version
    )
    records: dict[str, list[Entity]] = defaultdict(list)
    for name, entity in session.exec(statement):
        if entity is not None:
            records[name].append(dict(entity))
    return {
        "version": version,
        **{c.name: _default_order(c, records[c.name]) for c in COLLECTIONS},
    }


def current_version(session: Session) -> int:
    """The dataset version, 0 before anything was loaded."""
    return dataset_version(session) or 0


def history_from(session: Session) -> int:
    """The first version the history holds the whole dataset at (see `DatasetVersion`)."""
    row = session.get(m.DatasetVersion, 1)
    return 0 if row is None else row.history_from


def as_items(versions: Sequence[Version]) -> list[dict[str, Any]]:
    """Changes as the feed shows them, each naming its entity by `type` and `key`."""
    return [
        {
            "version": v.version,
            "at": utc(v.at),
            "op": v.op,
            "type": v.collection,
            "id": v.entity_id,
            "key": v.key,
            "entity": v.entity,
        }
        for v in versions
    ]
