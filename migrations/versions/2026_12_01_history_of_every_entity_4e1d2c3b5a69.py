"""history of every entity

Every change to an entity is kept with the dataset version it made (`entity_version`), for the
change feed, `changed_since`, an entity's history and `as_of`.

An existing database has no history to carry forward: only the audit trail of API writes, and
not the seed loader's. Its current state becomes the first version of each entity's history, one
`create` each, at the versions after the current one (so that the dataset version still only
grows), in collection order and then by id; the last of them is where the history begins to
hold the whole dataset (`dataset_version.history_from`), the first version `as_of` answers. Each is dated by the last audited write of that
entity, else by the earliest audited write (the seeded state held by then), else by the time
the dataset version last moved. Nothing else is invented: deleted entities have no history.

The records are read here as the export shows them at this revision, not through the app's
code, which will follow later changes of the models.

Revision ID: 4e1d2c3b5a69
Revises: 7b3e9c1d2a64
Create Date: 2026-12-01 14:30:00.000000
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '4e1d2c3b5a69'
down_revision: str | None = '7b3e9c1d2a64'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each collection at this revision, in the registry's order: its table, the field a URL
# addresses it by, its list-valued fields (field, association table, owner, value) and whether
# it carries citations and derivations.
COLLECTIONS: list[tuple[str, str, str, list[tuple[str, str, str, str]], bool]] = [
    ("sources", "source", "id", [], False),
    ("countries", "country", "id", [], True),
    ("people", "person", "id", [], True),
    (
        "summits",
        "summit",
        "number",
        [
            ("participants", "summit_participant", "summit_id", "country_id"),
            ("attendees", "summit_attendee", "summit_id", "person_id"),
        ],
        True,
    ),
    ("mechanism", "mechanism", "id", [], True),
    (
        "agreements",
        "agreement",
        "id",
        [("signatories", "agreement_signatory", "agreement_id", "country_id")],
        True,
    ),
    ("cooperation-centers", "cooperation_center", "id", [], True),
    (
        "trade-statistics",
        "trade_statistic",
        "id",
        [("partners", "trade_statistic_partner", "trade_statistic_id", "country_id")],
        True,
    ),
    ("priority-areas", "priority_area", "id", [], True),
    ("principles", "principle", "id", [], True),
    (
        "commitments",
        "commitment",
        "id",
        [("parties", "commitment_party", "commitment_id", "country_id")],
        True,
    ),
]
CONTEXT_LENGTH = 32  # of a quote's prefix and suffix, as app.data.provenance cuts them


def _table(bind: sa.Connection, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=bind)


def _citations(bind: sa.Connection, texts: dict[str, str | None]) -> dict[tuple[str, str], list]:
    citation = _table(bind, "citation")
    found: dict[tuple[str, str], list] = defaultdict(list)
    statement = sa.select(citation).order_by(
        citation.c.collection, citation.c.entity_id, citation.c.position
    )
    for row in bind.execute(statement).mappings():
        text = texts.get(row["source_id"])
        quoted = row["quote"] is not None and text is not None
        start, end = row["start"], row["end"]
        found[(row["collection"], row["entity_id"])].append(
            {
                "source": row["source_id"],
                "quote": row["quote"],
                "start": start,
                "end": end,
                "fields": row["fields"],
                "said_by": row["said_by"],
                "prefix": text[max(start - CONTEXT_LENGTH, 0) : start] if quoted else None,
                "suffix": text[end : end + CONTEXT_LENGTH] if quoted else None,
            }
        )
    return found


def _derivations(bind: sa.Connection) -> dict[tuple[str, str], list]:
    derivation = _table(bind, "derivation")
    found: dict[tuple[str, str], list] = defaultdict(list)
    statement = sa.select(derivation).order_by(
        derivation.c.collection, derivation.c.entity_id, derivation.c.position
    )
    for row in bind.execute(statement).mappings():
        found[(row["collection"], row["entity_id"])].append(
            {"fields": row["fields"], "basis": row["basis"], "note": row["note"]}
        )
    return found


def _linked(bind: sa.Connection, table_name: str, owner: str, value: str) -> dict[str, list]:
    table = _table(bind, table_name)
    found: dict[str, list] = defaultdict(list)
    for owner_id, value_id in bind.execute(
        sa.select(table.c[owner], table.c[value]).order_by(table.c[owner], table.c[value])
    ):
        found[owner_id].append(value_id)
    return found


def _records(bind: sa.Connection) -> list[tuple[str, str, Any, dict[str, Any]]]:
    """Every entity as (collection, id, URL key, record), in collection order, then by id."""
    sources = _table(bind, "source")
    texts = dict(bind.execute(sa.select(sources.c.id, sources.c.text)).all())
    citations, derivations = _citations(bind, texts), _derivations(bind)
    records = []
    for name, table_name, url_key, lists, cited in COLLECTIONS:
        table = _table(bind, table_name)
        linked = [(field, _linked(bind, *link)) for field, *link in lists]
        for row in bind.execute(sa.select(table).order_by(table.c.id)).mappings():
            record = dict(row)
            if cited:
                record["sources"] = citations[(name, row["id"])]
                record["derivations"] = derivations[(name, row["id"])]
            for field, values in linked:
                record[field] = values[row["id"]]
            records.append((name, row["id"], row[url_key], _jsonable(record)))
    return records


def _jsonable(value: Any) -> Any:
    """A value as JSON holds it, as the app's `to_jsonable_python` writes it."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _dates(bind: sa.Connection, fallback: dt.datetime) -> tuple[dict, dt.datetime]:
    """When each entity was last written through the API, and the earliest such write
    (`fallback` if none was)."""
    change = _table(bind, "change")
    last = {
        (collection, entity_id): at
        for collection, entity_id, at in bind.execute(
            sa.select(change.c.collection, change.c.entity_id, sa.func.max(change.c.at)).group_by(
                change.c.collection, change.c.entity_id
            )
        )
    }
    earliest = bind.execute(sa.select(sa.func.min(change.c.at))).scalar()
    return last, fallback if earliest is None else earliest


def _utc(at: dt.datetime) -> dt.datetime:
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


def upgrade() -> None:
    entity_version = op.create_table(
        "entity_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("op", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("collection", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("entity", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "op IN ('create', 'update', 'delete')", name=op.f("ck_entity_version_op")
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_entity_version")),
    )
    op.create_index(
        "ix_entity_version_entity", "entity_version", ["collection", "entity_id", "version"]
    )
    op.create_index("ix_entity_version_collection", "entity_version", ["collection", "version"])
    op.add_column(
        "dataset_version",
        sa.Column("history_from", sa.Integer(), server_default="0", nullable=False),
    )
    _carry_current_state(op.get_bind(), entity_version)


def _carry_current_state(bind: sa.Connection, entity_version: sa.Table) -> None:
    dataset_version = _table(bind, "dataset_version")
    current = bind.execute(sa.select(dataset_version).where(dataset_version.c.id == 1)).first()
    records = _records(bind)
    if current is None or not records:
        return  # a database not yet seeded: its history starts with the loader
    last, earliest = _dates(bind, current.updated_at)
    rows = [
        {
            "version": current.version + offset,
            "at": _utc(last.get((collection, entity_id), earliest)),
            "op": "create",
            "collection": collection,
            "entity_id": entity_id,
            "key": str(key),
            "entity": record,
        }
        for offset, (collection, entity_id, key, record) in enumerate(records, start=1)
    ]
    op.bulk_insert(entity_version, rows)
    # Before that version the history holds only part of the dataset: `as_of` answers from it.
    bind.execute(
        sa.text("UPDATE dataset_version SET version = :version, history_from = :version WHERE id = 1"),
        {"version": current.version + len(rows)},
    )


def downgrade() -> None:
    # The dataset version stays where it is: it only ever grows, or caches would go stale.
    with op.batch_alter_table("dataset_version") as batch:
        batch.drop_column("history_from")
    op.drop_index("ix_entity_version_collection", table_name="entity_version")
    op.drop_index("ix_entity_version_entity", table_name="entity_version")
    op.drop_table("entity_version")
