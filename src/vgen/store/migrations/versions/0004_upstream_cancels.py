"""Upstream cancels: jobs of cancelled tasks that their upstream should be asked to stop.
Webhook events keep their task's key and callback URL (the task row may be deleted first).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_cancels",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("upstream_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("done_at", sa.Float, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
    )
    op.create_index("ix_upstream_cancels_due", "upstream_cancels", ["done_at", "next_attempt_at"])
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("api_key_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("callback_url", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("callback_url")
        batch.drop_column("api_key_id")
    op.drop_table("upstream_cancels")
