"""Easing curves: how a move's progress follows time, so motion starts and stops gently.

Invariant: every curve maps 0 -> 0 and 1 -> 1 and is monotone on [0, 1].
"""

from __future__ import annotations


def smoothstep(u: float) -> float:
    """3u^2 - 2u^3: zero velocity at both ends, 1.5x the linear speed at the middle."""
    u = min(1.0, max(0.0, u))
    return u * u * (3.0 - 2.0 * u)


def eased_positions(count: int) -> list[float]:
    """Positions in [0, 1] for `count` evenly timed frames, the first at 0 and the last at 1."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    if count == 1:
        return [0.0]
    return [smoothstep(i / (count - 1)) for i in range(count)]
