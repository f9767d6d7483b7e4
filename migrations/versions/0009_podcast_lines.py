"""podcast lines: how many lines the run had spoken of how many, kept with its state

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 15:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("lines_done", "lines_total"):
        op.add_column(
            "podcasts",
            sa.Column(column, sa.Integer(), nullable=False, server_default=sa.text("0")),
        )


def downgrade() -> None:
    op.drop_column("podcasts", "lines_total")
    op.drop_column("podcasts", "lines_done")
