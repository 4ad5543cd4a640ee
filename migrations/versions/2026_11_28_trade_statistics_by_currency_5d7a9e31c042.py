"""trade statistics indexed by currency in their paging order

A filter on currency (and year) then reads its matches in page order and counts them from the
index alone, however many rows the table holds.

Revision ID: 5d7a9e31c042
Revises: c5e1f0a2b3d4
Create Date: 2026-11-28 23:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '5d7a9e31c042'
down_revision: str | None = 'c5e1f0a2b3d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_trade_statistic_currency_year_id',
        'trade_statistic',
        ['currency', 'year', 'id'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_trade_statistic_currency_year_id', table_name='trade_statistic')
