"""podcast quota period: the billing period a reservation was taken from

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "podcasts",
        sa.Column("quota_period_start", sa.DateTime(timezone=True), nullable=True),
    )
    # Reservations held now were taken from their owner's current period.
    op.execute(
        "UPDATE podcasts SET quota_period_start = subscriptions.current_period_start "
        "FROM subscriptions WHERE subscriptions.user_id = podcasts.user_id "
        "AND podcasts.quota_reserved"
    )


def downgrade() -> None:
    op.drop_column("podcasts", "quota_period_start")
