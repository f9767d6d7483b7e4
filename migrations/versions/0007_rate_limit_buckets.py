"""rate limit buckets: request counts shared by every API process

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One row a client (an API key's hash or an address) and its current window; updated
    # with INSERT ... ON CONFLICT DO UPDATE, so concurrent API processes count exactly.
    op.create_table(
        "rate_limit_buckets",
        sa.Column("bucket", sa.Text(), primary_key=True),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_rate_limit_buckets_window_ends_at", "rate_limit_buckets", ["window_ends_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_rate_limit_buckets_window_ends_at", table_name="rate_limit_buckets")
    op.drop_table("rate_limit_buckets")
