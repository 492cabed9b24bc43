"""`QueueEstimate`: where a queued task stands (API.md §6) and when it should be done.

The ETA models a target's capacity as `capacity` identical servers, each busy until its running
task's typical duration has passed, then serving the tasks ahead in turn: with equal durations
the k-th task ahead starts on the k-th server to free up, one typical duration later per round.
On a steady workload that is the real wait, within the spread of the durations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueEstimate:
    position: int  # 1 = the next task to be started on its target
    eta_seconds: int | None  # None without a duration history of the model on the target


def eta_seconds(
    position: int,
    *,
    capacity: int | None,
    running_elapsed: Sequence[float],
    typical_s: float | None,
) -> int | None:
    """Seconds until a task at `position` is done, given how long the target's running tasks
    have run (`running_elapsed`) and how long the model typically takes there. Without a
    capacity limit the task starts as soon as a worker looks, so only its own run remains."""
    if typical_s is None:
        return None
    if capacity is None:
        return math.ceil(typical_s)
    busy_until = sorted(max(0.0, typical_s - elapsed) for elapsed in running_elapsed)[:capacity]
    free_at = sorted(busy_until + [0.0] * (capacity - len(busy_until)))
    rounds, server = divmod(position - 1, capacity)
    return math.ceil(free_at[server] + rounds * typical_s + typical_s)
