"""minutes reserved: the expected seconds of podcasts being made count against the plan

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column(
            "current_seconds_reserved", sa.Float(), nullable=False, server_default=sa.text("0")
        ),
    )
    op.add_column("podcasts", sa.Column("quota_reserved_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("podcasts", "quota_reserved_seconds")
    op.drop_column("subscriptions", "current_seconds_reserved")
