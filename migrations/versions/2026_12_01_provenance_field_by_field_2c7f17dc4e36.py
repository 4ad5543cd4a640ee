"""provenance field by field

Citations name the fields they support (`fields`) and the person they quote (`said_by`); every
entity may carry derivations; a trade figure may be the equivalent of another, and its
`record_high` may be unknown (null).

Before this revision a citation meant "this supports the entity". A citation carried forward
keeps that meaning: its `fields` are every field the entity had a value in then (its id and free
text aside), so no value loses its support and none gains a support it did not have.

Revision ID: 2c7f17dc4e36
Revises: 5d7a9e31c042
Create Date: 2026-12-01 07:54:36.189809
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '2c7f17dc4e36'
down_revision: str | None = '5d7a9e31c042'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each collection's table and list-valued fields (association table, owner column) as they are
# at this revision: the migration must not follow later changes to the models.
TABLES = {
    "countries": "country",
    "people": "person",
    "summits": "summit",
    "mechanism": "mechanism",
    "agreements": "agreement",
    "cooperation-centers": "cooperation_center",
    "trade-statistics": "trade_statistic",
    "priority-areas": "priority_area",
    "principles": "principle",
    "commitments": "commitment",
}
LISTS = {
    "summits": [
        ("participants", "summit_participant", "summit_id"),
        ("attendees", "summit_attendee", "summit_id"),
    ],
    "agreements": [("signatories", "agreement_signatory", "agreement_id")],
    "trade-statistics": [("partners", "trade_statistic_partner", "trade_statistic_id")],
    "commitments": [("parties", "commitment_party", "commitment_id")],
}
# Fields no citation needs to support (the id and free text), as app.data.provenance has them.
UNCITED = {"id", "description", "notes"}


def _valued_fields_sql(bind: sa.Connection, collection: str) -> str:
    """SQL giving, for the entity `t` of `collection`, the JSON list of its fields with a value
    (not null, not empty text, not an empty list), as text."""
    table = TABLES[collection]
    columns = [c["name"] for c in sa.inspect(bind).get_columns(table) if c["name"] not in UNCITED]
    parts = [
        f"CASE WHEN t.\"{name}\" IS NOT NULL AND CAST(t.\"{name}\" AS TEXT) NOT IN ('', '[]')"
        f" THEN '\"{name}\",' ELSE '' END"
        for name in columns
    ]
    parts += [
        f"CASE WHEN EXISTS (SELECT 1 FROM {link} l WHERE l.{owner} = t.id)"
        f" THEN '\"{field}\",' ELSE '' END"
        for field, link, owner in LISTS.get(collection, [])
    ]
    return f"'[' || rtrim({' || '.join(parts)}, ',') || ']'"


def _carry_citations_forward(bind: sa.Connection) -> None:
    as_json = "CAST(({}) AS JSON)" if bind.dialect.name == "postgresql" else "({})"
    for collection, table in TABLES.items():
        fields = f"SELECT {_valued_fields_sql(bind, collection)} FROM {table} t" \
            " WHERE t.id = citation.entity_id"
        bind.execute(
            sa.text(f"UPDATE citation SET fields = {as_json.format(fields)}"
                    " WHERE collection = :collection"),
            {"collection": collection},
        )
    # A citation of nothing valued (or of an entity that is gone) still supports its identity.
    identity = as_json.format("'[\"id\"]'")
    bind.execute(sa.text(
        f"UPDATE citation SET fields = {identity}"
        " WHERE fields IS NULL OR CAST(fields AS TEXT) = '[]'"
    ))


def upgrade() -> None:
    op.create_table('derivation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('collection', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.CheckConstraint("basis IN ('derived', 'inferred')", name=op.f('ck_derivation_basis')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_derivation')),
    sa.UniqueConstraint('collection', 'entity_id', 'position', name=op.f('uq_derivation_collection'))
    )
    with op.batch_alter_table('derivation', schema=None) as batch_op:
        batch_op.create_index('ix_derivation_entity', ['collection', 'entity_id'], unique=False)

    with op.batch_alter_table('citation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fields', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('said_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f('ix_citation_said_by'), ['said_by'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_citation_said_by_person'), 'person', ['said_by'], ['id'], initially='DEFERRED', deferrable=True)

    _carry_citations_forward(op.get_bind())

    with op.batch_alter_table('citation', schema=None) as batch_op:
        batch_op.alter_column('fields', existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table('trade_statistic', schema=None) as batch_op:
        batch_op.add_column(sa.Column('equivalent_of', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.alter_column('record_high',
               existing_type=sa.BOOLEAN(),
               nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_trade_statistic_equivalent_of_trade_statistic'), 'trade_statistic', ['equivalent_of'], ['id'], initially='DEFERRED', deferrable=True)


def downgrade() -> None:
    # Derivations, speakers, fields and equivalences have no place in the older shape; an
    # unknown record high becomes the older default, false.
    op.execute("UPDATE trade_statistic SET record_high = false WHERE record_high IS NULL")
    with op.batch_alter_table('trade_statistic', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_trade_statistic_equivalent_of_trade_statistic'), type_='foreignkey')
        batch_op.alter_column('record_high',
               existing_type=sa.BOOLEAN(),
               nullable=False)
        batch_op.drop_column('equivalent_of')

    with op.batch_alter_table('citation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_citation_said_by_person'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_citation_said_by'))
        batch_op.drop_column('said_by')
        batch_op.drop_column('fields')

    with op.batch_alter_table('derivation', schema=None) as batch_op:
        batch_op.drop_index('ix_derivation_entity')

    op.drop_table('derivation')
