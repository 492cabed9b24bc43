"""PostgreSQL: NOTIFY `vgen_runnable` whenever a task becomes claimable now (created, handed
back, rerouted), so idle workers on any host wake within milliseconds instead of at their next
poll. SQLite has no NOTIFY; there the in-process wake and the idle poll remain.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# "Claimable now" is judged with the task's own timestamps (written by vgen's clock), not the
# database's: a parked task (lease until a later poll) stays quiet; a handed-back one
# (lease until `now`) and a new queued one notify. The payload is the engine target.
_FUNCTION = """
CREATE FUNCTION vgen_notify_runnable() RETURNS trigger AS $$
BEGIN
  IF (NEW.state = 'queued' AND NEW.available_at <= NEW.updated_at)
     OR (NEW.state = 'processing' AND NEW.lease_owner IS NULL
         AND NEW.lease_expires_at <= NEW.updated_at) THEN
    PERFORM pg_notify('vgen_runnable', NEW.engine);
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
_TRIGGER = """
CREATE TRIGGER tasks_notify_runnable
AFTER INSERT OR UPDATE OF state, lease_owner, lease_expires_at, available_at ON tasks
FOR EACH ROW EXECUTE FUNCTION vgen_notify_runnable()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS tasks_notify_runnable ON tasks")
    op.execute("DROP FUNCTION IF EXISTS vgen_notify_runnable()")
