"""SQLAlchemy Core tables. Alembic migrations create them; this module only describes them.

Times are Unix seconds as floats; the wire layer rounds them to integers.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("rate_per_minute", sa.Integer, nullable=True),
    sa.Column("max_inflight", sa.Integer, nullable=True),
    sa.Column("daily_seconds", sa.Float, nullable=True),
    sa.Column("webhook_url", sa.Text, nullable=True),
    sa.Column("webhook_secret", sa.String(100), nullable=True),
    sa.Column("weight", sa.Float, nullable=False, server_default="1"),  # fair share, API.md §6
    sa.Column("daily_budget", sa.Float, nullable=True),  # in the price table's currency
    sa.Column("monthly_budget", sa.Float, nullable=True),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("engine", sa.String(100), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("available_at", sa.Float, nullable=False),
    sa.Column("deadline_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("completed_at", sa.Float, nullable=True),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_expires_at", sa.Float, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("upstream_id", sa.String(255), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("artifact_key", sa.String(255), nullable=True),
    sa.Column("video_seconds", sa.Float, nullable=True),
    sa.Column("archive_expires_at", sa.Float, nullable=True),
    sa.Column("upstream_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("api_key_id", sa.String(64), nullable=True),
    sa.Column("requested_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("priority", sa.String(10), nullable=False, server_default="normal"),
    # Fair share: the task's slot in its tenant's share (start-time fair queuing) and the
    # slot less its priority's head start, which orders the tenant's own tasks.
    sa.Column("fair_tag", sa.Float, nullable=False, server_default="0"),
    sa.Column("fair_rank", sa.Float, nullable=False, server_default="0"),
    sa.Column("cost", sa.Float, nullable=True),  # set when completed; failures cost nothing
    sa.Column("reserved_cost", sa.Float, nullable=False, server_default="0"),
    sa.Index("ix_tasks_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_tasks_state_available", "state", "available_at"),
    sa.Index("ix_tasks_state_lease", "state", "lease_expires_at"),
    sa.Index("ix_tasks_key_state", "api_key_id", "state"),
    sa.Index("ix_tasks_archive_expiry", "archive_expires_at"),
    sa.Index("ix_tasks_state_engine_tag", "state", "engine", "fair_tag", "id"),
    sa.Index("ix_tasks_tenant_state_rank", "tenant_id", "state", "fair_rank"),
    sa.Index("ix_tasks_tenant_state_tag", "tenant_id", "state", "fair_tag", "id"),
    sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_tasks_idempotency"),
)

files = sa.Table(
    "files",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False, index=True),
    sa.Column("mime_type", sa.String(50), nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("storage_key", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

usage_daily = sa.Table(
    "usage_daily",
    metadata,
    sa.Column("api_key_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # UTC date, YYYY-MM-DD
    sa.Column("video_seconds", sa.Float, nullable=False, server_default="0"),
    sa.Column("completed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cancelled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cost", sa.Float, nullable=False, server_default="0"),
    sa.PrimaryKeyConstraint("api_key_id", "model", "day"),
    sa.Index("ix_usage_tenant_day", "tenant_id", "day"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the `webhook-id` header, stable
    sa.Column("task_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # pending | delivered | failed | skipped
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("lease_expires_at", sa.Float, nullable=True),
    sa.Column("delivered_at", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("url", sa.Text, nullable=True),  # where it went (resolved on first attempt)
    # Copied from the task when the event is written: the task row may be deleted before
    # delivery. (NULL on rows written by hand: the target is then looked up from the task.)
    sa.Column("api_key_id", sa.String(64), nullable=True),
    sa.Column("callback_url", sa.Text, nullable=True),
    sa.Index("ix_webhook_events_due", "state", "next_attempt_at"),
    sa.Index("ix_webhook_events_task", "task_id"),
)

upstream_cancels = sa.Table(
    "upstream_cancels",
    metadata,
    sa.Column("task_id", sa.String(64), primary_key=True),
    sa.Column("engine", sa.String(100), nullable=False),
    sa.Column("upstream_id", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("done_at", sa.Float, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=True),  # confirmed | refused | gave_up
    sa.Index("ix_upstream_cancels_due", "done_at", "next_attempt_at"),
)

# Fair share (API.md §6): the share clock each tenant's next task starts from.
tenant_shares = sa.Table(
    "tenant_shares",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("last_tag", sa.Float, nullable=False),
)

share_clock = sa.Table(
    "share_clock",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # one row, id 1
    sa.Column("virtual_time", sa.Float, nullable=False),
)

# Observed upstream job durations (submit -> upstream done), per engine target and model:
# the learned polling pace, ETAs and typical durations read the recent ones.
job_durations = sa.Table(
    "job_durations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("engine", sa.String(100), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("finished_at", sa.Float, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Index("ix_job_durations_target", "engine", "model", "finished_at"),
)
