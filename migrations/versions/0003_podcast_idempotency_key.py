"""podcast idempotency key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("podcasts", sa.Column("idempotency_key", sa.String(length=255), nullable=True))
    op.add_column("podcasts", sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_podcasts_user_idempotency_key",
        "podcasts",
        ["user_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_podcasts_user_idempotency_key", table_name="podcasts")
    op.drop_column("podcasts", "request_fingerprint")
    op.drop_column("podcasts", "idempotency_key")
