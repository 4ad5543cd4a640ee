"""country names in the languages of the six countries

Countries carry `names`: the country's name by BCP 47 language tag in the languages of the six
countries (zh, ru, kk, ky, tg, tk, uz), from the ISO 3166-1 translations of the Debian iso-codes
project that pycountry ships, cited to the reference source `iso-3166-1-translations`.

Existing data is carried forward. Every country gets the names pycountry gives it, leaving out a
language whose list has no real translation of the name (none, an empty one, or the English name
itself, as the tk and uz lists give China); the reference source is added if it is not there; and
each country given names cites it for them. Each of these is a change like any other, kept in
the history at the versions after the current one: the source's `create` first, then an
`update` of each country whose record changed, by id. So the feed, `changed_since`, every
history and `as_of` still give the export. The search index gets the source's document (a
country's names are not searched, so its document does not change).

pycountry is read here as data, at migration time; the tables are read as they stand at this
revision, never through the app's code, which will follow later changes of the models.

Revision ID: 70ae28ddcc00
Revises: 4e1d2c3b5a69
Create Date: 2026-12-01 17:15:00.000000
"""

import datetime as dt
import gettext
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pycountry
import sqlalchemy as sa
from alembic import op

revision: str = '70ae28ddcc00'
down_revision: str | None = '4e1d2c3b5a69'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The languages `names` is given in, in the order it keeps them (as app.data.tables has them).
LANGUAGES = ("zh", "ru", "kk", "ky", "tg", "tk", "uz")
# The reference source of the names, as the seed file has it.
SOURCE = {
    "id": "iso-3166-1-translations",
    "title": "ISO 3166-1 country names, translations of the Debian iso-codes project as shipped"
    " by pycountry",
    "type": "reference",
    "publisher": "Debian iso-codes project",
    "published": None,
    "url": "https://salsa.debian.org/iso-codes-team/iso-codes",
    "text": None,
}
# A source's fields in the order of its record, of which its search document is made (as
# app.data.search makes it: the title, then every text value but the id).
SOURCE_FIELDS = ("id", "title", "type", "publisher", "published", "url", "text")
FIELD = "names"
CONTEXT_LENGTH = 32  # of a quote's prefix and suffix, as app.data.provenance cuts them


def translated_names(alpha_3: str) -> dict[str, str]:
    """The name of the country `alpha_3` in each language whose list translates it. gettext
    reads the tag `zh` as the list of zh_CN, Chinese as written in China."""
    country = pycountry.countries.get(alpha_3=alpha_3)
    if country is None:
        return {}
    names = {}
    for tag in LANGUAGES:
        try:
            translation = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[tag])
        except FileNotFoundError:
            continue
        name = translation.gettext(country.name)
        if name.strip() and name != country.name:
            names[tag] = name
    return names


def _table(bind: sa.Connection, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=bind)


def _rows_of_countries(bind: sa.Connection, table: sa.Table) -> Any:
    """The citations or derivations (`table`) of every country, in their order."""
    statement = (
        sa.select(table)
        .where(table.c.collection == "countries")
        .order_by(table.c.entity_id, table.c.position)
    )
    return bind.execute(statement).mappings()


def _country_records(bind: sa.Connection) -> dict[str, dict[str, Any]]:
    """Every country as the export holds it: its columns, citations and derivations."""
    country, citation = _table(bind, "country"), _table(bind, "citation")
    derivation, source = _table(bind, "derivation"), _table(bind, "source")
    texts = dict(bind.execute(sa.select(source.c.id, source.c.text)).all())
    citations: dict[str, list] = defaultdict(list)
    for row in _rows_of_countries(bind, citation):
        text = texts.get(row["source_id"])
        quoted = row["quote"] is not None and text is not None
        start, end = row["start"], row["end"]
        citations[row["entity_id"]].append(
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
    derivations: dict[str, list] = defaultdict(list)
    for row in _rows_of_countries(bind, derivation):
        derivations[row["entity_id"]].append(
            {"fields": row["fields"], "basis": row["basis"], "note": row["note"]}
        )
    return {
        row["id"]: {
            **row,
            "sources": citations[row["id"]],
            "derivations": derivations[row["id"]],
        }
        for row in bind.execute(sa.select(country).order_by(country.c.id)).mappings()
    }


def _source_record(bind: sa.Connection) -> dict[str, Any] | None:
    source = _table(bind, "source")
    row = bind.execute(sa.select(source).where(source.c.id == SOURCE["id"])).mappings().first()
    return None if row is None else {name: row[name] for name in SOURCE_FIELDS}


def _latest_versions(bind: sa.Connection, collection: str) -> dict[str, Any]:
    """The entity as the last version of each of `collection`'s histories holds it (None if
    deleted)."""
    version = _table(bind, "entity_version")
    statement = (
        sa.select(version.c.entity_id, version.c.entity)
        .where(version.c.collection == collection)
        .order_by(version.c.version)
    )
    return dict(bind.execute(statement).all())  # the last of each entity's wins


def _record_changes(bind: sa.Connection, changed: Sequence[tuple[str, str]]) -> None:
    """Keep a version for each of the `changed` entities (collection, id) whose record is not
    what its history last holds, in that order, moving the dataset version on by one each."""
    dataset_version = _table(bind, "dataset_version")
    current = bind.execute(
        sa.select(dataset_version.c.version).where(dataset_version.c.id == 1)
    ).scalar()
    if current is None:
        return  # nothing was ever loaded: there is no history to keep in step
    records = {("countries", k): r for k, r in _country_records(bind).items()}
    records[("sources", SOURCE["id"])] = _source_record(bind)
    latest = {name: _latest_versions(bind, name) for name in ("countries", "sources")}
    entity_version = _table(bind, "entity_version")
    now = dt.datetime.now(dt.UTC)
    version = current
    for collection, entity_id in changed:
        record = records.get((collection, entity_id))
        held = latest[collection]
        if (entity_id in held and held[entity_id] == record) or (
            entity_id not in held and record is None
        ):
            continue
        if record is None:
            operation = "delete"
        else:
            operation = "create" if held.get(entity_id) is None else "update"
        version += 1
        bind.execute(
            entity_version.insert(),
            {
                "version": version,
                "at": now,
                "op": operation,
                "collection": collection,
                "entity_id": entity_id,
                "key": entity_id,  # a country and a source are addressed by their id
                "entity": record,
            },
        )
    if version != current:
        bind.execute(
            dataset_version.update()
            .where(dataset_version.c.id == 1)
            .values(version=version, updated_at=now)
        )


def _search_document(bind: sa.Connection, *, add: bool) -> None:
    """Add the source's search document, or remove it."""
    bind.execute(
        sa.text("DELETE FROM search_index WHERE type = 'sources' AND entity_id = :id"),
        {"id": SOURCE["id"]},
    )
    if add:
        body = "\n".join(
            value for name in SOURCE_FIELDS[1:] if isinstance(value := SOURCE[name], str)
        )
        bind.execute(
            sa.text(
                "INSERT INTO search_index (type, entity_id, title, body)"
                " VALUES ('sources', :id, :title, :body)"
            ),
            {"id": SOURCE["id"], "title": SOURCE["title"], "body": body},
        )


def _cite(bind: sa.Connection, entity_id: str) -> None:
    """The country cites the reference source for its names, unless it cites something for
    them already."""
    citation = _table(bind, "citation")
    rows = bind.execute(
        sa.select(citation.c.position, citation.c.fields).where(
            citation.c.collection == "countries", citation.c.entity_id == entity_id
        )
    ).all()
    if any(FIELD in fields for _, fields in rows):
        return
    bind.execute(
        citation.insert(),
        {
            "collection": "countries",
            "entity_id": entity_id,
            "position": max((position for position, _ in rows), default=-1) + 1,
            "source_id": SOURCE["id"],
            "quote": None,
            "start": None,
            "end": None,
            "fields": [FIELD],
            "said_by": None,
        },
    )


def upgrade() -> None:
    op.add_column("country", sa.Column("names", sa.JSON(), server_default="{}", nullable=False))
    bind = op.get_bind()
    country = _table(bind, "country")
    ids = list(bind.execute(sa.select(country.c.id).order_by(country.c.id)).scalars())
    given = {alpha_3: translated_names(alpha_3) for alpha_3 in ids}
    for alpha_3, names in given.items():
        bind.execute(country.update().where(country.c.id == alpha_3).values(names=names))
    if not ids:
        return  # a database not yet seeded: the seed file gives the names and their source
    cited = [alpha_3 for alpha_3, names in given.items() if names]
    source = _table(bind, "source")
    if cited and _source_record(bind) is None:
        bind.execute(source.insert(), SOURCE)
        _search_document(bind, add=True)
    for alpha_3 in cited:
        _cite(bind, alpha_3)
    # Every country's record changed: it has `names` now, if only `{}`.
    _record_changes(bind, [("sources", SOURCE["id"])] + [("countries", i) for i in ids])


def _unsupport(bind: sa.Connection) -> None:
    """No citation or derivation names `names`, which the schema before this revision does not
    have (its code refuses a record whose support names a field it lacks): one that supports
    only the names goes, another keeps the rest of its fields."""
    for name in ("citation", "derivation"):
        table = _table(bind, name)
        rows = bind.execute(
            sa.select(table.c.id, table.c.fields).where(table.c.collection == "countries")
        ).all()
        for row_id, fields in rows:
            if FIELD not in fields:
                continue
            kept = [field for field in fields if field != FIELD]
            where = table.c.id == row_id
            if kept:
                bind.execute(table.update().where(where).values(fields=kept))
            else:
                bind.execute(table.delete().where(where))


def downgrade() -> None:
    # The names go with their column, and so does their support: the citations (and any
    # derivation) of them, and the reference source itself once nothing cites it (it is
    # removed even if it was there before the upgrade, which cannot be told). Each entity
    # changed is a version, as on the way up; the dataset version only grows.
    bind = op.get_bind()
    country = _table(bind, "country")
    ids = list(bind.execute(sa.select(country.c.id).order_by(country.c.id)).scalars())
    _unsupport(bind)
    with op.batch_alter_table("country") as batch:
        batch.drop_column("names")
    citation, source = _table(bind, "citation"), _table(bind, "source")
    still_cited = bind.execute(
        sa.select(citation.c.id).where(citation.c.source_id == SOURCE["id"]).limit(1)
    ).first()
    if still_cited is None:
        bind.execute(source.delete().where(source.c.id == SOURCE["id"]))
        _search_document(bind, add=False)
    _record_changes(bind, [("countries", i) for i in ids] + [("sources", SOURCE["id"])])
