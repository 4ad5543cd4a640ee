"""Full-text search over every collection: SQLite's FTS5, or PostgreSQL's tsvector.

The index is a derived table (`search_index`, created by the migrations): the seed loader and
every write rebuild it from the entities, so it never disagrees with them.
"""

import re
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from app.data.reads import Entity, add_url_keys, all_entities
from app.data.registry import COLLECTIONS, Collection

HIGHLIGHT = ("<mark>", "</mark>")
# A word is a run of letters and digits, as FTS5's unicode61 tokenizer splits text.
WORD = r"[^\W_]+"
WORD_CHARACTER = r"[^\W_]"
INSERT_DOCUMENT = text(
    "INSERT INTO search_index (type, entity_id, title, body)"
    " VALUES (:type, :entity_id, :title, :body)"
)


def _body(entity: Entity) -> str:
    """Every text value of the entity, quotes of its citations included."""
    parts: list[str] = []
    for name, value in entity.items():
        if name == "id":
            continue
        if name == "sources":
            parts.extend(c["quote"] for c in value if c.get("quote"))
        elif isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(item for item in value if isinstance(item, str))
    return "\n".join(parts)


def _document(collection: Collection, entity: Entity) -> dict[str, Any]:
    return {
        "type": collection.name,
        "entity_id": entity["id"],
        "title": collection.title(entity),
        "body": _body(entity),
    }


def rebuild_index(session: Session) -> int:
    """Index every entity anew; returns how many were indexed."""
    connection = session.connection()
    connection.execute(text("DELETE FROM search_index"))
    documents = [
        _document(collection, entity)
        for collection in COLLECTIONS
        for entity in all_entities(session, collection)
    ]
    if documents:
        connection.execute(INSERT_DOCUMENT, documents)
    return len(documents)


def reindex_entity(
    session: Session, collection: Collection, entity_id: str, entity: Entity | None
) -> None:
    """Bring one entity's document up to date: replaced, or removed when `entity` is None."""
    connection = session.connection()
    connection.execute(
        text("DELETE FROM search_index WHERE type = :type AND entity_id = :entity_id"),
        {"type": collection.name, "entity_id": entity_id},
    )
    if entity is not None:
        connection.execute(INSERT_DOCUMENT, _document(collection, entity))


def query_words(query: str) -> list[str]:
    """The words of a user's query: runs of letters and digits, nothing else, so that no
    operator of the search engine's own syntax can come from user input."""
    return re.findall(WORD, query)


# Every word must match, each as a prefix; the title weighs more than the body.
SQLITE_SEARCH = (
    "SELECT count(*) FROM search_index WHERE search_index MATCH :q",
    "SELECT type, entity_id, title,"
    " snippet(search_index, 3, :open, :close, '…', 16) AS snippet"
    " FROM search_index WHERE search_index MATCH :q"
    " ORDER BY bm25(search_index, 0, 0, 10.0, 1.0), type, entity_id"
    " LIMIT :limit OFFSET :offset",
)
POSTGRESQL_SEARCH = (
    "SELECT count(*) FROM search_index WHERE document @@ to_tsquery('simple', :q)",
    "SELECT type, entity_id, title,"
    " ts_headline('simple', body, to_tsquery('simple', :q),"
    " 'StartSel=' || :open || ', StopSel=' || :close || ', MaxWords=16, MinWords=6') AS snippet"
    " FROM search_index WHERE document @@ to_tsquery('simple', :q)"
    " ORDER BY ts_rank(document, to_tsquery('simple', :q)) DESC, type, entity_id"
    " LIMIT :limit OFFSET :offset",
)


def _expression(dialect: str, words: list[str]) -> str:
    if dialect == "postgresql":
        return " & ".join(f"{word}:*" for word in words)
    return " ".join(f'"{word}"*' for word in words)  # FTS5: quoted, so only ever words


def search(
    session: Session, words: list[str], *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Entities matching every word (each as a prefix), best first, and their total."""
    connection = session.connection()
    dialect = connection.dialect.name
    count_sql, hits_sql = POSTGRESQL_SEARCH if dialect == "postgresql" else SQLITE_SEARCH
    params = {"q": _expression(dialect, words), "limit": limit, "offset": offset}
    total = connection.execute(text(count_sql), params).scalar_one()
    rows = connection.execute(
        text(hits_sql), {**params, "open": HIGHLIGHT[0], "close": HIGHLIGHT[1]}
    ).all()
    hits = [
        {"type": row.type, "id": row.entity_id, "title": row.title, "snippet": row.snippet}
        for row in rows
    ]
    add_url_keys(session, hits)
    return hits, total
