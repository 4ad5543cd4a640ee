"""Every read of the database, written once for all collections. Nothing HTTP here.

Entities come back as plain dicts in the public shape of their collection: the table's columns,
the list-valued fields from their association tables, and `sources`, the citations.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session, SQLModel, select

from app import models as m
from app.collections import BY_NAME, COLLECTIONS, Collection, LinkedList

Entity = dict[str, Any]
SortKey = tuple[str, bool]  # (field, descending)


def _linked_values(
    session: Session, link: LinkedList, owner_ids: Sequence[str]
) -> dict[str, list[str]]:
    owner, value = getattr(link.table, link.owner), getattr(link.table, link.value)
    rows = session.exec(select(owner, value).where(owner.in_(owner_ids)).order_by(value)).all()
    values: dict[str, list[str]] = defaultdict(list)
    for owner_id, value_id in rows:
        values[owner_id].append(value_id)
    return values


def _citations(
    session: Session, collection: str, entity_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    rows = session.exec(
        select(m.Citation)
        .where(m.Citation.collection == collection, m.Citation.entity_id.in_(entity_ids))
        .order_by(m.Citation.entity_id, m.Citation.position)
    ).all()
    citations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        citations[row.entity_id].append(
            {"source": row.source_id, "quote": row.quote, "start": row.start, "end": row.end}
        )
    return citations


def to_entities(session: Session, collection: Collection, rows: Sequence[SQLModel]) -> list[Entity]:
    """`rows` of `collection`'s table as entities, with lists and citations loaded in bulk."""
    ids = [row.id for row in rows]  # type: ignore[attr-defined]
    lists = {link.field: _linked_values(session, link, ids) for link in collection.lists}
    citations = _citations(session, collection.name, ids)
    entities = []
    for row in rows:
        entity = row.model_dump()
        for name, values in lists.items():
            entity[name] = values.get(entity["id"], [])
        entity["sources"] = citations.get(entity["id"], [])
        entities.append(entity)
    return entities


def _order_by(collection: Collection, sort: Sequence[SortKey]) -> list[Any]:
    keys = list(sort) or [(name, False) for name in collection.default_sort]
    order = [
        getattr(collection.table, name).desc() if descending else getattr(collection.table, name)
        for name, descending in keys
    ]
    return [*order, collection.id_column]  # the id breaks ties, so pages never overlap


def list_page(
    session: Session,
    collection: Collection,
    *,
    filters: Mapping[str, Any],
    sort: Sequence[SortKey] = (),
    limit: int | None = None,
    offset: int = 0,
    where: Iterable[ColumnElement[bool]] = (),
) -> tuple[list[Entity], int]:
    """One page of `collection` matching `filters` (by name) and `where`, and the total."""
    conditions = [collection.filters[name](value) for name, value in filters.items()]
    conditions.extend(where)
    total = session.exec(
        select(func.count()).select_from(collection.table).where(*conditions)
    ).one()
    statement = (
        select(collection.table)
        .where(*conditions)
        .order_by(*_order_by(collection, sort))
        .offset(offset)
        .limit(limit)
    )
    return to_entities(session, collection, session.exec(statement).all()), total


def get_entity(session: Session, collection: Collection, key: str) -> Entity | None:
    """The entity `key` names (see `Collection.lookup`), or None."""
    row = session.exec(select(collection.table).where(collection.lookup(key))).first()
    return None if row is None else to_entities(session, collection, [row])[0]


def get_detail(session: Session, collection: Collection, key: str) -> Entity | None:
    """The entity `key` names with the related entities its detail view embeds."""
    entity = get_entity(session, collection, key)
    if entity is None:
        return None
    for embed in collection.embeds:
        entity[embed.field], _ = list_page(
            session, BY_NAME[embed.collection], filters={}, where=[embed.related(entity)]
        )
    return entity


def get_entity_count(session: Session, collection: Collection) -> int:
    return session.exec(select(func.count()).select_from(collection.table)).one()


def all_entities(session: Session, collection: Collection) -> list[Entity]:
    entities, _ = list_page(session, collection, filters={})
    return entities


def as_record(collection: Collection, entity: Entity) -> Entity:
    """`entity` in the shape the seed file and the writes use (its collection's `In` model)."""
    fields = collection.create.model_fields
    return {name: value for name, value in entity.items() if name in fields}


def export(session: Session) -> dict[str, list[Entity]]:
    """The whole dataset in the shape the seed loader reads."""
    return {
        collection.name: [as_record(collection, e) for e in all_entities(session, collection)]
        for collection in COLLECTIONS
    }


def dataset_version(session: Session) -> int | None:
    row = session.get(m.DatasetVersion, 1)
    return None if row is None else row.version


def readiness(session: Session, *, schema_head: str) -> dict[str, bool]:
    """Whether the schema is at the migrations' head and the dataset has been loaded."""
    connection = session.connection()  # an unreachable database raises here, to the caller
    try:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):  # no alembic_version table: never migrated
        session.rollback()
        return {"database": True, "migrated": False, "seeded": False}
    migrated = revision == schema_head
    return {
        "database": True,
        "migrated": migrated,
        "seeded": migrated and dataset_version(session) is not None,
    }


def list_changes(
    session: Session, *, collection: str | None, entity_id: str | None, limit: int, offset: int
) -> tuple[list[m.Change], int]:
    """The audit trail, newest first."""
    conditions = []
    if collection is not None:
        conditions.append(m.Change.collection == collection)
    if entity_id is not None:
        conditions.append(m.Change.entity_id == entity_id)
    total = session.exec(select(func.count()).select_from(m.Change).where(*conditions)).one()
    rows = session.exec(
        select(m.Change).where(*conditions).order_by(m.Change.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    ).all()
    return list(rows), total
