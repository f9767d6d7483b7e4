"""podcast script and version: the written script is kept with its podcast, and each
publish of its audio counts a version

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("podcasts", sa.Column("script", JSON))
    op.add_column(
        "podcasts",
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    # Podcasts published before versions were counted are at their first version, and
    # their script is the transcript's speakers and texts.
    op.execute("UPDATE podcasts SET version = 1 WHERE audio_key IS NOT NULL")
    op.execute(
        """
        UPDATE podcasts SET script = (
            SELECT jsonb_agg(
                jsonb_build_object('speaker', line->>'speaker', 'text', line->>'text')
                ORDER BY ordinality
            )
            FROM jsonb_array_elements(transcript::jsonb) WITH ORDINALITY AS t(line, ordinality)
        )
        WHERE transcript IS NOT NULL AND script IS NULL
        """
    )


def downgrade() -> None:
    op.drop_column("podcasts", "version")
    op.drop_column("podcasts", "script")
