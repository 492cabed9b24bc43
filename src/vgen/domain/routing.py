"""`Routing`: which engine targets serve each public model, in order, and each target's limits.

Invariant: every model routes to at least one target (`local` when nothing else is named).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LOCAL_TARGET = "local"


@dataclass(frozen=True)
class Routing:
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_concurrent: Mapping[str, int] = field(default_factory=dict)
    deadlines_s: Mapping[str, float] = field(default_factory=dict)
    min_poll_s: Mapping[str, float] = field(default_factory=dict)
    """Per target, the least time between two polls of one job (the learned pace's floor)."""

    def targets_for(self, model: str) -> tuple[str, ...]:
        """The ordered targets for `model`; the `"*"` route, else `local`, for the rest."""
        return self.routes.get(model) or self.routes.get("*") or (LOCAL_TARGET,)

    def first_target(self, model: str) -> str:
        return self.targets_for(model)[0]

    def next_target(self, model: str, current: str) -> str | None:
        """The target to fail over to when a submit to `current` failed, if any."""
        targets = self.targets_for(model)
        if current not in targets:
            return None
        position = targets.index(current)
        return targets[position + 1] if position + 1 < len(targets) else None

    def has_room(self, target: str, busy: int) -> bool:
        limit = self.max_concurrent.get(target)
        return limit is None or busy < limit
