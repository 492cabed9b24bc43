"""Upstream calls per task, and an index for claiming parked tasks whose poll is due.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("upstream_calls", sa.Integer, nullable=False, server_default="0")
        )
    # Thousands of parked remote jobs are `processing`; the claim looks for the due ones.
    op.create_index("ix_tasks_state_lease", "tasks", ["state", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_state_lease", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("upstream_calls")
