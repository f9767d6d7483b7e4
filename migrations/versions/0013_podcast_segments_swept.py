"""podcast segments swept: when the reconciler last removed a finished podcast's stored
segments (SEGMENT_RETENTION_DAYS after its last run)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:00:00.000000

0012 is taken by another branch's change (RSS); the merge re-chains this one after it if
both land.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("podcasts", sa.Column("segments_swept_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("podcasts", "segments_swept_at")
