"""The seed loader: a data file in, one transaction of upserts out.

Two steps, each usable alone: `parse` turns the file into validated records with every citation
pinned to its place in the source's text (no database involved), and `load` writes the records
in one transaction, creating or updating by id. A second load of the same file changes nothing.
"""

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.data import search
from app.data.citations import CitationError, resolve_all
from app.data.engine import session_scope
from app.data.history import record_citers_of, record_version
from app.data.provenance import is_pre_provenance, provenance_errors, with_old_meaning
from app.data.reads import Entity, as_record, dataset_version, get_entity
from app.data.registry import BY_NAME, COLLECTIONS, QUOTED, Collection
from app.data.rows import Outcome, missing_references, save_entity
from app.data.tables import Person, SourceIn

DEFAULT_FILE = Path(__file__).with_name("data.json")
ARTICLE_FILE = Path(__file__).with_name("source-document.txt")


class SeedError(Exception):
    """A data file that cannot be loaded; the message names the file, the record and why."""


Dataset = dict[str, list[Entity]]


def _record_label(path: Path, collection: str, index: int, raw: Any) -> str:
    record_id = raw.get("id") if isinstance(raw, dict) else None
    return f"{path}: {collection}[{index}]" + (f" (id {record_id!r})" if record_id else "")


def _refuse(path: Path, collection: str, index: int, raw: Any, problems: list[str]) -> SeedError:
    return SeedError(f"{_record_label(path, collection, index, raw)}: {'; '.join(problems)}")


def _validate(path: Path, collection: str, index: int, raw: Any, *, old_format: bool) -> Entity:
    chosen = BY_NAME[collection]
    if old_format and chosen.cited and isinstance(raw, dict):
        raw = with_old_meaning(chosen, raw)  # an export taken before field-level provenance
    try:
        record = chosen.create.model_validate(raw)
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or '(record)'}: {e['msg']}" for e in error.errors()
        ]
        raise _refuse(path, collection, index, raw, problems) from None
    entity = record.model_dump(exclude={"text_file", "sources"})
    for link in chosen.lists:
        entity[link.field] = sorted(set(entity[link.field]))
    unsupported = provenance_errors(chosen, record.model_dump())
    if unsupported:
        problems = [f"{'.'.join(map(str, e.path))}: {e.detail}" for e in unsupported]
        raise _refuse(path, collection, index, raw, problems)
    if isinstance(record, SourceIn) and record.text_file is not None:
        entity["text"] = (path.parent / record.text_file).read_text(encoding="utf-8")
    if hasattr(record, "sources"):
        entity["sources"] = record.sources
    return entity


EXPORT_VERSION = "version"


def parse(path: Path) -> Dataset:
    """The records of the data file at `path`, validated, with citations resolved."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SeedError(f"{path}: cannot read: {error}") from None
    if not isinstance(document, dict):
        raise SeedError(f"{path}: the top level must be an object of collections")
    # An export says which dataset version it shows: a fact about where it came from.
    unknown = sorted(set(document) - set(BY_NAME) - {EXPORT_VERSION})
    if unknown:
        raise SeedError(f"{path}: unknown collections {unknown}; known: {sorted(BY_NAME)}")
    dataset: Dataset = {}
    old_format = is_pre_provenance(document)
    for collection in COLLECTIONS:
        raws = document.get(collection.name, [])
        dataset[collection.name] = [
            _validate(path, collection.name, index, raw, old_format=old_format)
            for index, raw in enumerate(raws)
        ]
        duplicates = [
            i for i, n in Counter(e["id"] for e in dataset[collection.name]).items() if n > 1
        ]
        if duplicates:
            raise SeedError(f"{path}: {collection.name}: duplicate ids {duplicates}")
    texts = {source["id"]: source.get("text") for source in dataset["sources"]}
    for name, entities in dataset.items():
        for index, entity in enumerate(entities):
            if "sources" not in entity:
                continue
            try:
                entity["sources"] = [c.model_dump() for c in resolve_all(entity["sources"], texts)]
            except CitationError as error:
                raise SeedError(f"{_record_label(path, name, index, entity)}: {error}") from None
    return dataset


@dataclass
class LoadReport:
    changes: dict[str, Counter[Outcome]] = field(default_factory=dict)
    version: int | None = None

    @property
    def changed(self) -> bool:
        return any(c[Outcome.CREATED] or c[Outcome.UPDATED] for c in self.changes.values())

    def lines(self) -> list[str]:
        lines = [
            f"{name:20} {sum(counts.values()):3} records: {counts[Outcome.CREATED]} created,"
            f" {counts[Outcome.UPDATED]} updated, {counts[Outcome.UNCHANGED]} unchanged"
            for name, counts in self.changes.items()
        ]
        if self.changed:
            lines.append(f"dataset version is now {self.version}")
        else:
            lines.append("nothing changed: the database already holds this data")
        return lines


def _check_speakers(session: Session, dataset: Dataset, label: str) -> None:
    """Every person a citation attributes words to is in the dataset or the database."""
    people = {person["id"] for person in dataset.get("people", [])}
    people |= set(session.exec(select(Person.id)).all())
    for name, entities in dataset.items():
        for entity in entities:
            for index, citation in enumerate(entity.get("sources", [])):
                said_by = citation.get("said_by")
                if said_by is not None and said_by not in people:
                    raise SeedError(
                        f"{label}: {name} {entity['id']!r}: sources.{index}.said_by: there is"
                        f" no person {said_by!r}"
                    )


def _check_references(session: Session, dataset: Dataset, label: str) -> None:
    """Once every record is written, each reference the database checks only at commit names
    something (the others were checked as each row was written), and each record keeps its
    collection's rules."""
    for collection in COLLECTIONS:
        for entity in dataset.get(collection.name, []):
            problems = [
                f"{name}: there is no {what} {value!r}"
                for name, value, what in missing_references(
                    session, collection, entity, deferred_only=True
                )
            ]
            problems += [
                f"{name}: {detail}"
                for rule in collection.rules
                for name, detail in rule(session, entity)
            ]
            if problems:
                raise SeedError(
                    f"{label}: {collection.name} {entity['id']!r}: {'; '.join(problems)}"
                )


def load(engine: Engine, dataset: Dataset, *, label: str = "data") -> LoadReport:
    """Write `dataset` in one transaction: all of it, or (on any error) none of it."""
    report = LoadReport()
    with _refused_by_database(label), session_scope(engine, write=True) as session:
        _check_speakers(session, dataset, label)
        retexted: list[str] = []  # sources whose text the load changes
        for collection in COLLECTIONS:
            counts: Counter[Outcome] = Counter()
            for entity in dataset.get(collection.name, []):
                outcome = _save(session, collection, entity, label)
                counts[outcome] += 1
                if outcome is not Outcome.UNCHANGED:
                    _record_version(session, collection, entity["id"], outcome)
                if collection is QUOTED and outcome is Outcome.UPDATED:
                    retexted.append(entity["id"])
            report.changes[collection.name] = counts
        _check_references(session, dataset, label)
        for source_id in retexted:
            record_citers_of(session, source_id)
        if report.changed:
            report.version = dataset_version(session)
            search.rebuild_index(session)
    return report


def _save(session: Session, collection: Collection, entity: Entity, label: str) -> Outcome:
    try:
        return save_entity(session, collection, entity)
    except IntegrityError as error:
        raise SeedError(
            f"{label}: {collection.name} {entity['id']!r}: refused by the database: {error.orig}"
        ) from None


def _record_version(
    session: Session, collection: Collection, entity_id: str, outcome: Outcome
) -> None:
    """Each record the loader creates or changes is a change of its own, with its version."""
    saved = get_entity(session, collection, entity_id)
    assert saved is not None  # just saved, in this transaction
    record_version(
        session,
        collection,
        op="create" if outcome is Outcome.CREATED else "update",
        entity_id=entity_id,
        key=saved[collection.url_key],
        record=as_record(collection, saved),
    )


@contextmanager
def _refused_by_database(label: str) -> Iterator[None]:
    """A reference the database checks only at commit (a deferred key) as a `SeedError`."""
    try:
        yield
    except IntegrityError as error:
        raise SeedError(f"{label}: refused by the database: {error.orig}") from None


def load_file(engine: Engine, path: Path = DEFAULT_FILE) -> LoadReport:
    return load(engine, parse(path), label=str(path))
