"""billing and administration: provider ids on subscriptions, billing events, the audit
log, user roles and disabled users

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("users", sa.Column("role", sa.String(20), nullable=False, server_default="USER"))
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True)))
    op.add_column("subscriptions", sa.Column("provider_customer_id", sa.String(100)))
    op.add_column("subscriptions", sa.Column("provider_subscription_id", sa.String(100)))
    op.add_column("subscriptions", sa.Column("pending_plan", sa.String(20)))
    op.add_column(
        "subscriptions",
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("subscriptions", sa.Column("billing_event_at", sa.DateTime(timezone=True)))
    op.create_unique_constraint(
        "uq_subscriptions_provider_customer_id", "subscriptions", ["provider_customer_id"]
    )
    op.create_index(
        "ix_subscriptions_provider_subscription_id",
        "subscriptions",
        ["provider_subscription_id"],
    )
    op.create_table(
        "billing_events",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_subscription_id", sa.String(100)),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_billing_events_user_id", "billing_events", ["user_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("details", JSON, nullable=False),
        sa.Column("event_id", sa.String(100)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index("ix_audit_events_actor_user_id", "audit_events", ["actor_user_id"])
    op.create_index("ix_audit_events_target_user_id", "audit_events", ["target_user_id"])
    op.create_index("ix_audit_events_created_at", "audit_events", ["created_at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("billing_events")
    op.drop_index("ix_subscriptions_provider_subscription_id", table_name="subscriptions")
    op.drop_constraint("uq_subscriptions_provider_customer_id", "subscriptions")
    for column in (
        "billing_event_at",
        "cancel_at_period_end",
        "pending_plan",
        "provider_subscription_id",
        "provider_customer_id",
    ):
        op.drop_column("subscriptions", column)
    op.drop_column("users", "disabled_at")
    op.drop_column("users", "role")
