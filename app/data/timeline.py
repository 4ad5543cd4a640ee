"""The timeline: every dated event the data holds, in date order."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.data.reads import Entity, all_entities
from app.data.registry import BY_NAME


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


def _event(collection: str, entity: Entity, **values: Any) -> TimelineEvent:
    key = entity[BY_NAME[collection].url_key]
    return TimelineEvent(type=collection, id=entity["id"], key=key, **values)


def _events(session: Session) -> Iterator[TimelineEvent]:
    summits = {s["number"]: s for s in all_entities(session, BY_NAME["summits"])}
    for mechanism in all_entities(session, BY_NAME["mechanism"]):
        yield _event(
            "mechanism",
            mechanism,
            date=mechanism["established"],
            title=f"{mechanism['name']} established",
        )
    for summit in summits.values():
        yield _event(
            "summits",
            summit,
            date=summit["start_date"].isoformat(),
            end_date=summit["end_date"].isoformat(),
            title=summit["name"],
        )
    for agreement in all_entities(session, BY_NAME["agreements"]):
        summit = summits[agreement["summit"]]
        yield _event(
            "agreements",
            agreement,
            date=summit["start_date"].isoformat(),
            end_date=summit["end_date"].isoformat(),
            title=f"Signing of the {agreement['title']}",
            note=f"Dated by the summit at which it was signed ({summit['name']}).",
        )
    for commitment in all_entities(session, BY_NAME["commitments"]):
        if commitment["start"]:
            yield _event(
                "commitments",
                commitment,
                date=commitment["start"],
                end_date=commitment["end"],
                title=commitment["title"],
            )
    trade = BY_NAME["trade-statistics"]
    for statistic in all_entities(session, trade):
        if statistic["record_high"]:
            yield _event(
                "trade-statistics",
                statistic,
                date=str(statistic["year"]),
                title=f"Record high: {trade.title(statistic)}",
            )


# On the same date, an event comes before what happened at it: the summit before its signings.
KIND_ORDER = ["mechanism", "summits", "agreements", "commitments", "trade-statistics"]


def timeline(session: Session, *, type_: str | None = None) -> list[TimelineEvent]:
    """Every event (or those about collection `type_`), earliest first; a year or a month sorts
    before the days within it."""
    events = [e for e in _events(session) if type_ is None or e.type == type_]
    return sorted(events, key=lambda e: (e.date, KIND_ORDER.index(e.type), e.end_date or "", e.id))
