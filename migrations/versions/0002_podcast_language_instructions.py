"""podcast language and instructions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("podcasts", sa.Column("language", sa.String(length=35), nullable=True))
    op.add_column("podcasts", sa.Column("instructions", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("podcasts", "instructions")
    op.drop_column("podcasts", "language")
