"""Platform: per-key limits and webhook target, the key that created each task, daily usage,
and the webhook outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("rate_per_minute", sa.Integer, nullable=True))
        batch.add_column(sa.Column("max_inflight", sa.Integer, nullable=True))
        batch.add_column(sa.Column("daily_seconds", sa.Float, nullable=True))
        batch.add_column(sa.Column("webhook_url", sa.Text, nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.String(100), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("requested_seconds", sa.Float, nullable=False, server_default="0")
        )
    op.create_index("ix_tasks_key_state", "tasks", ["api_key_id", "state"])
    op.create_table(
        "usage_daily",
        sa.Column("api_key_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("video_seconds", sa.Float, nullable=False, server_default="0"),
        sa.Column("completed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancelled", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("api_key_id", "model", "day"),
    )
    op.create_index("ix_usage_tenant_day", "usage_daily", ["tenant_id", "day"])
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("delivered_at", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("url", sa.Text, nullable=True),
    )
    op.create_index("ix_webhook_events_due", "webhook_events", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_events_task", "webhook_events", ["task_id"])


def downgrade() -> None:
    op.drop_table("webhook_events")
    op.drop_table("usage_daily")
    op.drop_index("ix_tasks_key_state", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("requested_seconds")
        batch.drop_column("api_key_id")
    with op.batch_alter_table("api_keys") as batch:
        for column in ("webhook_secret", "webhook_url", "daily_seconds", "max_inflight"):
            batch.drop_column(column)
        batch.drop_column("rate_per_minute")
