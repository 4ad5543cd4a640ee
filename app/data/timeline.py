"""The timeline: every dated event the data holds, in date order.

Which collections put events on it, and which events, is declared in the registry
(`Collection.timeline`); this module gathers and orders them.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, SQLModel

from app.data import tables as m
from app.data.reads import Entity, all_entities
from app.data.registry import BY_TABLE, ON_TIMELINE, Collection


@dataclass(frozen=True)
class TimelineEvent:
    """A dated event (to the precision the sources give) about the entity `type` and `id` name;
    `key` is what addresses that entity (its id, a summit's number)."""

    date: str
    title: str
    type: str
    id: str
    key: Any
    end_date: str | None = None
    note: str | None = None  # how a derived date was derived


class _Related:
    """Entities of other collections by their key, each collection read once when first asked."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._by_key: dict[str, dict[Any, Entity]] = {}

    def __call__(self, table: type[SQLModel], key: Any) -> Mapping[str, Any]:
        collection = BY_TABLE[m.table_of(table)]
        if collection.name not in self._by_key:
            entities = all_entities(self._session, collection)
            self._by_key[collection.name] = {e[collection.url_key]: e for e in entities}
        return self._by_key[collection.name][key]


def _events_of(
    collection: Collection, session: Session, related: _Related
) -> Iterator[TimelineEvent]:
    assert collection.timeline is not None
    for entity in all_entities(session, collection):
        for values in collection.timeline.events(entity, related):
            key = entity[collection.url_key]
            yield TimelineEvent(type=collection.name, id=entity["id"], key=key, **values)


def timeline(session: Session, *, type_: str | None = None) -> list[TimelineEvent]:
    """Every event (or those about collection `type_`), earliest first; a year or a month sorts
    before the days within it."""
    related = _Related(session)
    chosen = [c for c in ON_TIMELINE if type_ is None or c.name == type_]
    events = [event for c in chosen for event in _events_of(c, session, related)]
    order = [c.name for c in ON_TIMELINE]
    return sorted(events, key=lambda e: (e.date, order.index(e.type), e.end_date or "", e.id))
