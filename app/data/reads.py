"""Every read of the database, written once for all collections. Nothing HTTP here.

Entities come back as plain dicts in the public shape of their collection: the table's columns,
the list-valued fields from their association tables, and `sources`, the citations.
"""

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Engine, Select, Table, case, func, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session, col, select

from app.data import tables as m
from app.data.conditions import Condition, condition_sql, facet_counts
from app.data.engine import WRITES
from app.data.paging import Cursor, SortKey, beyond_key, key_of, ordering
from app.data.provenance import CONTEXT_LENGTH
from app.data.registry import BY_NAME, COLLECTIONS, Collection, ListField

Entity = dict[str, Any]


# The ids of the entities being read: a list, or the query that selects them (for a whole list,
# where thousands of ids would each be a bound parameter).
EntityIds = Sequence[str] | Select[Any]


# Where a list of ids goes in a statement made once (`_for_ids`): building a statement and its
# cache key anew for each page would cost more than running it.
IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
StatementOf = Callable[[Any, Any], Select[Any]]


@functools.cache
def _prebuilt(build: StatementOf, subject: Any) -> Select[Any]:
    return build(subject, IDS)


def _for_ids(
    build: StatementOf, subject: Any, ids: EntityIds
) -> tuple[Select[Any], dict[str, Any]]:
    """The statement `build` makes for `subject` and `ids`, and its parameters: made once for a
    list of ids, which is a parameter; made for the query, when the ids are one."""
    if isinstance(ids, Select):
        return build(subject, ids), {}
    return _prebuilt(build, subject), {"ids": list(ids)}


def _linked_statement(link: ListField, ids: Any) -> Select[Any]:
    owner, value = getattr(link.table, link.owner), getattr(link.table, link.value)
    return select(owner, value).where(owner.in_(ids)).order_by(value)


def _linked_values(session: Session, link: ListField, owner_ids: EntityIds) -> dict[str, list[str]]:
    statement, parameters = _for_ids(_linked_statement, link, owner_ids)
    rows = session.connection().execute(statement, parameters).all()
    values: dict[str, list[str]] = defaultdict(list)
    for owner_id, value_id in rows:
        values[owner_id].append(value_id)
    return values


def _context_columns(citation: Any, text: Any) -> tuple[Any, Any]:
    """The `prefix` and `suffix` of each quote, cut from its source's text by the database
    (as `provenance.context_of` does), so that they always match the text as it is now."""
    length = CONTEXT_LENGTH
    prefix = case(
        (citation.start >= length, func.substr(text, citation.start - (length - 1), length)),
        else_=func.substr(text, 1, citation.start),
    )
    return prefix, func.substr(text, citation.end + 1, length)


def _quoting(*leading: Any) -> Select[Any]:
    """A select of citations joined to the source they quote: the `leading` columns, then
    each citation as the API shows it (`source`, `quote`, offsets, `fields`, `said_by`, and
    `prefix` and `suffix` cut from the text)."""
    citation = m.table_of(m.Citation).c
    source = m.table_of(m.Source).c
    prefix, suffix = _context_columns(citation, source.text)
    return sa.select(  # sqlmodel's select is typed for at most four columns
        *leading,
        citation.source_id.label("source"),
        citation.quote,
        citation.start,
        citation.end,
        citation.fields,
        citation.said_by,
        prefix.label("prefix"),
        suffix.label("suffix"),
    ).join_from(m.Citation, m.Source, citation.source_id == source.id)


def _citations_statement(collection: str, ids: Any) -> Select[Any]:
    citation = m.table_of(m.Citation).c
    return (
        _quoting(citation.entity_id)
        .where(citation.collection == collection, citation.entity_id.in_(ids))
        .order_by(citation.entity_id, citation.position)
    )


def _citations(
    session: Session, collection: str, entity_ids: EntityIds
) -> dict[str, list[dict[str, Any]]]:
    statement, parameters = _for_ids(_citations_statement, collection, entity_ids)
    citations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _table_rows(session, statement, parameters):
        citations[row.pop("entity_id")].append(row)
    return citations


def _derivations_statement(collection: str, ids: Any) -> Select[Any]:
    derivation = m.table_of(m.Derivation).c
    return (
        select(derivation.entity_id, derivation.fields, derivation.basis, derivation.note)
        .where(derivation.collection == collection, derivation.entity_id.in_(ids))
        .order_by(derivation.entity_id, derivation.position)
    )


def _derivations(
    session: Session, collection: str, entity_ids: EntityIds
) -> dict[str, list[dict[str, Any]]]:
    statement, parameters = _for_ids(_derivations_statement, collection, entity_ids)
    derivations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = session.connection().execute(statement, parameters).all()
    for entity_id, fields, basis, note in rows:
        derivations[entity_id].append({"fields": fields, "basis": basis, "note": note})
    return derivations


def _table_rows(
    session: Session, statement: Select[Any], parameters: dict[str, Any] | None = None
) -> list[Entity]:
    """The rows `statement` selects, as dicts of column values. Plain rows rather than ORM
    objects: a page of fifty is read, turned into JSON and forgotten, so tracking it as objects
    would cost more than the query."""
    result = session.connection().execute(statement, parameters or {})
    names = list(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]


def _table(collection: Collection) -> Table:
    return m.table_of(collection.table)


def _select_rows(collection: Collection) -> Select[Any]:
    return select(_table(collection))


def to_entities(
    session: Session,
    collection: Collection,
    rows: Sequence[Entity],
    *,
    ids: EntityIds | None = None,
) -> list[Entity]:
    """`rows` of `collection`'s table (column values) as entities, with lists, citations and
    derivations loaded in bulk; `ids` selects the rows' ids, if not given one by one."""
    ids = [row["id"] for row in rows] if ids is None else ids
    lists = {link.field: _linked_values(session, link, ids) for link in collection.lists}
    citations = _citations(session, collection.name, ids)
    derivations = _derivations(session, collection.name, ids)
    for entity in rows:
        for name, values in lists.items():
            entity[name] = values.get(entity["id"], [])
        entity["sources"] = citations.get(entity["id"], [])
        entity["derivations"] = derivations.get(entity["id"], [])
    return list(rows)


def sort_keys(collection: Collection, sort: Sequence[SortKey]) -> list[SortKey]:
    """The sort asked for (or the collection's default), the id last to break ties, so that
    pages never overlap and every row has a key of its own."""
    keys = list(sort) or [(name, False) for name in collection.default_sort]
    return keys if "id" in (name for name, _ in keys) else [*keys, ("id", False)]


def _columns(collection: Collection, keys: Sequence[SortKey]) -> list[Any]:
    table = _table(collection)
    return [table.c[name] for name, _ in keys]


# The size of each collection, by database, as of the last version that changed it: the total
# of an unfiltered list (every page of it, in any order) is counted once per change, not per
# request, which on a million rows is most of a page's cost.
_SIZES: WeakKeyDictionary[Engine, dict[tuple[str, int], int]] = WeakKeyDictionary()


def _count(session: Session, collection: Collection, conditions: Sequence[Any]) -> int:
    if not conditions:
        return collection_size(session, collection)
    return session.exec(select(func.count()).select_from(collection.table).where(*conditions)).one()


def collection_size(session: Session, collection: Collection) -> int:
    """How many entities `collection` holds, counted again only after it changed (its last
    version in the history, an index lookup, says when)."""
    last = session.exec(
        select(func.max(m.EntityVersion.version)).where(
            m.EntityVersion.collection == collection.name
        )
    ).one()
    engine = session.get_bind()
    # A write's count is of what it has not committed yet: it is never kept.
    sizes = {}
    if isinstance(engine, Engine) and not session.info.get(WRITES):
        sizes = _SIZES.setdefault(engine, {})
    key = (collection.name, last or 0)
    if key not in sizes:
        if len(sizes) > 4 * len(COLLECTIONS):  # sizes of versions gone by
            sizes.clear()
        sizes[key] = session.exec(select(func.count()).select_from(collection.table)).one()
    return sizes[key]


def _conditions(
    session: Session,
    collection: Collection,
    filters: Mapping[str, Any],
    where: Iterable[ColumnElement[bool] | Condition],
) -> list[ColumnElement[bool]]:
    """The SQL of a list's collection filters (by name) and its other conditions."""
    return [
        *(collection.filters[name](value) for name, value in filters.items()),
        *(condition_sql(session, collection, c) if isinstance(c, Condition) else c for c in where),
    ]


def list_page(
    session: Session,
    collection: Collection,
    *,
    filters: Mapping[str, Any],
    sort: Sequence[SortKey] = (),
    limit: int | None = None,
    offset: int = 0,
    where: Iterable[ColumnElement[bool] | Condition] = (),
) -> tuple[list[Entity], int]:
    """One page of `collection` matching `filters` (by name) and `where`, and the total."""
    conditions = _conditions(session, collection, filters, where)
    items = _offset_page(
        session, collection, conditions, sort_keys(collection, sort), limit, offset
    )
    return items, _count(session, collection, conditions)


def _offset_page(
    session: Session,
    collection: Collection,
    conditions: Sequence[ColumnElement[bool]],
    keys: Sequence[SortKey],
    limit: int | None,
    offset: int,
) -> list[Entity]:
    statement = (
        _select_rows(collection)
        .where(*conditions)
        .order_by(*ordering(_columns(collection, keys), keys, reverse=False))
        .offset(offset)
        .limit(limit)
    )
    rows = _table_rows(session, statement)
    whole = limit is None and offset == 0
    ids = select(_table(collection).c.id).where(*conditions) if whole else None
    return to_entities(session, collection, rows, ids=ids)


@dataclass
class Window:
    """A page of a list and where it sits: `position` is the offset of its first item. With
    `keys` (the sort), its neighbours are addressed by cursor; without, by offset."""

    items: Sequence[Any]
    total: int
    position: int
    more_before: bool
    more_after: bool
    keys: list[SortKey] | None = None
    # The facet counts asked for, by field: over every matching item, not the page alone.
    facets: dict[str, list[dict[str, Any]]] | None = None

    @classmethod
    def at_offset(cls, items: Sequence[Any], total: int, offset: int) -> "Window":
        return cls(items, total, offset, offset > 0, offset + len(items) < total)


def list_window(
    session: Session,
    collection: Collection,
    *,
    filters: Mapping[str, Any],
    sort: Sequence[SortKey],
    limit: int,
    offset: int = 0,
    cursor: Cursor | None = None,
    where: Iterable[ColumnElement[bool] | Condition] = (),
    facets: Sequence[str] = (),
) -> Window:
    """The page `offset` or `cursor` names, of the entities matching `filters` (by name) and
    `where`, with the counts of the `facets` asked for. A cursor's page is a range scan from
    its key, so a page a million rows deep costs what the first does."""
    conditions = _conditions(session, collection, filters, where)
    window = _window(
        session, collection, conditions, sort_keys(collection, sort), limit, offset, cursor
    )
    if facets:
        window.facets = {
            name: facet_counts(session, collection, name, conditions) for name in facets
        }
    return window


def _window(
    session: Session,
    collection: Collection,
    conditions: Sequence[ColumnElement[bool]],
    keys: list[SortKey],
    limit: int,
    offset: int,
    cursor: Cursor | None,
) -> Window:
    total = _count(session, collection, conditions)
    if cursor is None:
        items = _offset_page(session, collection, conditions, keys, limit, offset)
        window = Window.at_offset(items, total, offset)
        window.keys = keys
        return window
    columns = _columns(collection, keys)
    reverse = cursor.direction != "after"
    beyond = (
        []
        if cursor.direction == "last"
        else [beyond_key(columns, keys, cursor.key, reverse=reverse)]
    )
    statement = (
        _select_rows(collection)
        .where(*conditions, *beyond)
        .order_by(*ordering(columns, keys, reverse=reverse))
        .limit(limit + 1)  # one more than shown tells whether there is more beyond
    )
    rows = _table_rows(session, statement)
    more = len(rows) > limit
    rows = rows[:limit][::-1] if reverse else rows[:limit]
    items = to_entities(session, collection, rows)
    if cursor.direction == "after":
        return Window(items, total, cursor.position, True, more, keys)
    if cursor.direction == "before":
        return Window(items, total, cursor.position if more else 0, more, True, keys)
    return Window(items, total, max(total - len(items), 0), more, False, keys)


def entity_batches(
    session: Session, collection: Collection, *, batch_size: int = 1000
) -> Iterator[list[Entity]]:
    """Every entity of `collection` in its default order, `batch_size` at a time: each batch
    a range scan from the last one's key, so memory stays flat however long the table."""
    keys = sort_keys(collection, ())
    columns = _columns(collection, keys)
    order = ordering(columns, keys, reverse=False)
    after: tuple[Any, ...] | None = None
    while True:
        statement = _select_rows(collection).order_by(*order).limit(batch_size)
        if after is not None:
            statement = statement.where(beyond_key(columns, keys, after, reverse=False))
        rows = _table_rows(session, statement)
        if not rows:
            return
        batch = to_entities(session, collection, rows)
        yield batch
        after = key_of(batch[-1], keys)


def get_entity(session: Session, collection: Collection, key: str) -> Entity | None:
    """The entity `key` names (see `Collection.lookup`), or None."""
    rows = _table_rows(session, _select_rows(collection).where(collection.lookup(key)).limit(1))
    return to_entities(session, collection, rows)[0] if rows else None


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
    """How many entities `collection` holds, counted now (in a write's transaction, too)."""
    return session.exec(select(func.count()).select_from(collection.table)).one()


def all_entities(session: Session, collection: Collection) -> list[Entity]:
    entities, _ = list_page(session, collection, filters={})
    return entities


def as_record(collection: Collection, entity: Entity) -> Entity:
    """`entity` in the shape the seed file and the writes use (its collection's `In` model)."""
    fields = collection.create.model_fields
    return {name: value for name, value in entity.items() if name in fields}


def source_annotations(
    session: Session, source_id: str, *, limit: int, offset: int
) -> tuple[list[Entity], int]:
    """Every citation into the source `source_id`, in the order of the text, and their total:
    each with the collection (`type`) and id of the entity that cites, and its URL `key`."""
    citation = m.table_of(m.Citation).c
    condition = citation.source_id == source_id
    total = session.connection().execute(select(func.count()).where(condition)).scalar_one()
    statement = (
        _quoting(citation.collection.label("type"), citation.entity_id.label("id"))
        .where(condition)
        .order_by(
            citation.start.asc().nulls_first(),
            citation.end,
            citation.collection,
            citation.entity_id,
            citation.position,
        )
        .offset(offset)
        .limit(limit)
    )
    annotations = _table_rows(session, statement)
    add_url_keys(session, annotations)
    return annotations, total


def add_url_keys(session: Session, rows: Sequence[Entity]) -> None:
    """Give each row that names an entity by `type` (its collection) and `id` the `key` that
    addresses it: its id, or what the collection is addressed by instead (a summit's number)."""
    for row in rows:
        row["key"] = row["id"]
    for collection in COLLECTIONS:
        ids = [row["id"] for row in rows if row["type"] == collection.name]
        if not ids or collection.url_key == "id":
            continue
        table = _table(collection)
        statement = select(table.c.id, table.c[collection.url_key]).where(table.c.id.in_(ids))
        keys = {entity_id: key for entity_id, key in session.connection().execute(statement)}
        for row in rows:
            if row["type"] == collection.name:
                row["key"] = keys.get(row["id"], row["id"])


def export(session: Session) -> dict[str, list[Entity]]:
    """The whole dataset in the shape the seed loader reads."""
    return {
        collection.name: [as_record(collection, e) for e in all_entities(session, collection)]
        for collection in COLLECTIONS
    }


def versioned_export(session: Session) -> dict[str, Any]:
    """The export with the dataset `version` it shows: call it in one read transaction, so that
    both come from one snapshot."""
    return {"version": dataset_version(session), **export(session)}


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
        select(m.Change)
        .where(*conditions)
        .order_by(col(m.Change.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total
