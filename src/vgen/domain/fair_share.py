"""Fair share between tenants that compete for the same capacity (API.md §6).

The scheme is weighted fair queuing by virtual finish tags (start-time fair queuing, as in
Goyal, Vin & Cheng 1996), kept in the task table so every worker on one database agrees:

- Each tenant owns a line of *slots*. A new task takes the tenant's next slot:
  `tag = max(virtual_time, tenant's last tag) + 1 / weight`, where `weight` is the creating
  key's (default 1) and `virtual_time` is the tag of the most recently started task.
- A claim starts the queued task with the smallest tag (its tenant's turn). Whichever tenant
  queued first or most, a tenant that starts queuing joins at the current virtual time, so
  1,000 tasks queued by A delay B's next task by about one slot of A's, not 1,000; weights 2:1
  give 2:1 service while both have work. A tenant that was idle earns no credit for it.
- `priority` orders a tenant's own tasks only: the claim serves the tenant whose turn it is
  with that tenant's best-ranked task, and the passed-over task takes the served task's later
  slot, so the tenant's line of slots (its share) is unchanged. The rank is fixed at creation:
  the task's first slot less a head start of `HEAD_START_SLOTS` of the tenant's slots for
  `high` (plus that for `low`). A high task goes before up to that many of its tenant's queued
  normal tasks, and a normal task is passed by at most that many later high ones — high never
  starves normal forever.

Each claim costs a handful of `LIMIT 1` index walks (ix_tasks_state_engine_tag per engine,
ix_tasks_tenant_state_rank once): O(log n) in the number of queued tasks.
"""

from __future__ import annotations

from enum import StrEnum


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


DEFAULT_WEIGHT = 1.0
HEAD_START_SLOTS = 1000
_HEAD_START = {Priority.HIGH: HEAD_START_SLOTS, Priority.NORMAL: 0, Priority.LOW: -HEAD_START_SLOTS}


def slot_width(weight: float) -> float:
    """How far one task moves its tenant's line: a heavier key's slots are closer together."""
    return 1.0 / weight


def rank(tag: float, priority: Priority, weight: float) -> float:
    """The order of a task among its own tenant's (lower first)."""
    return tag - _HEAD_START[priority] * slot_width(weight)
