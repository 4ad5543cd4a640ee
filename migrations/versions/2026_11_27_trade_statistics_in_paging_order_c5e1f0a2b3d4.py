"""trade statistics indexed in their paging order

Revision ID: c5e1f0a2b3d4
Revises: b2467de75c91
Create Date: 2026-11-27 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'c5e1f0a2b3d4'
down_revision: str | None = 'b2467de75c91'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_trade_statistic_year_id', 'trade_statistic', ['year', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_trade_statistic_year_id', table_name='trade_statistic')
