"""Fair, costed queues (issue 14): per-key weight and budgets, a task's priority, fair-share tag
and cost, cost in daily usage, each tenant's share clock, and observed upstream job durations.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("weight", sa.Float, nullable=False, server_default="1"))
        batch.add_column(sa.Column("daily_budget", sa.Float, nullable=True))
        batch.add_column(sa.Column("monthly_budget", sa.Float, nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("priority", sa.String(10), nullable=False, server_default="normal")
        )
        batch.add_column(sa.Column("fair_tag", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("fair_rank", sa.Float, nullable=False, server_default="0"))
        batch.add_column(sa.Column("cost", sa.Float, nullable=True))
        batch.add_column(sa.Column("reserved_cost", sa.Float, nullable=False, server_default="0"))
    op.create_index("ix_tasks_state_engine_tag", "tasks", ["state", "engine", "fair_tag", "id"])
    op.create_index("ix_tasks_tenant_state_rank", "tasks", ["tenant_id", "state", "fair_rank"])
    op.create_index("ix_tasks_tenant_state_tag", "tasks", ["tenant_id", "state", "fair_tag", "id"])
    with op.batch_alter_table("usage_daily") as batch:
        batch.add_column(sa.Column("cost", sa.Float, nullable=False, server_default="0"))
    op.create_table(
        "tenant_shares",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("last_tag", sa.Float, nullable=False),
    )
    op.create_table(
        "share_clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("virtual_time", sa.Float, nullable=False),
    )
    op.execute("INSERT INTO share_clock (id, virtual_time) VALUES (1, 0)")
    op.create_table(
        "job_durations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_index("ix_job_durations_target", "job_durations", ["engine", "model", "finished_at"])


def downgrade() -> None:
    op.drop_table("job_durations")
    op.drop_table("share_clock")
    op.drop_table("tenant_shares")
    with op.batch_alter_table("usage_daily") as batch:
        batch.drop_column("cost")
    op.drop_index("ix_tasks_tenant_state_tag", "tasks")
    op.drop_index("ix_tasks_tenant_state_rank", "tasks")
    op.drop_index("ix_tasks_state_engine_tag", "tasks")
    with op.batch_alter_table("tasks") as batch:
        for column in ("reserved_cost", "cost", "fair_rank", "fair_tag", "priority"):
            batch.drop_column(column)
    with op.batch_alter_table("api_keys") as batch:
        for column in ("monthly_budget", "daily_budget", "weight"):
            batch.drop_column(column)
