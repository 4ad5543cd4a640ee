"""search index without urls

The search index kept each entity's URL, so the data layer made URLs and moving the API's
prefix would have needed a reindex. It keeps the entity's collection and id; the API makes the
URL. SQLite's FTS5 cannot drop a column: the index is made anew and its rows copied over.

Revision ID: 7b3e9c1d2a64
Revises: 2c7f17dc4e36
Create Date: 2026-12-01 09:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '7b3e9c1d2a64'
down_revision: str | None = '2c7f17dc4e36'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS5_OPTIONS = "tokenize = 'unicode61 remove_diacritics 2'"


def _rebuild_sqlite_index(columns: str, select: str) -> None:
    op.execute(f"CREATE VIRTUAL TABLE search_index_new USING fts5({columns}, {FTS5_OPTIONS})")
    op.execute(f"INSERT INTO search_index_new SELECT {select} FROM search_index")
    op.execute("DROP TABLE search_index")
    op.execute("ALTER TABLE search_index_new RENAME TO search_index")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_index(
            "type UNINDEXED, entity_id UNINDEXED, title, body", "type, entity_id, title, body"
        )
    else:
        op.execute("ALTER TABLE search_index DROP COLUMN url")


# A path that serves the entity: by its id, which every collection's detail route takes.
URL = "'/api/v1/' || type || '/' || entity_id"


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_index(
            "type UNINDEXED, entity_id UNINDEXED, url UNINDEXED, title, body",
            f"type, entity_id, {URL}, title, body",
        )
    else:
        op.execute("ALTER TABLE search_index ADD COLUMN url text NOT NULL DEFAULT ''")
        op.execute(f"UPDATE search_index SET url = {URL}")
        op.execute("ALTER TABLE search_index ALTER COLUMN url DROP DEFAULT")
