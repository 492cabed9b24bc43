"""`ModelDirectory`: the models list (`GET /v1/models`, `GET /v1/videos/models`, API.md §3):
each catalog model with what it accepts, its price, its typical duration and the health of
the engine targets it routes to.

Invariant: the list is read from the catalog, routing and price table the server runs with,
plus the store's live figures (tasks each target holds, observed job durations); it never
calls an upstream.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from vgen.domain.catalog import AspectRatio, Mode, ModelCatalog, ModelSpec, Resolution
from vgen.domain.prices import PriceTable
from vgen.domain.routing import Routing
from vgen.store.durations import quantile
from vgen.store.store import Store

OWNER = "vgen"


class ModelDirectory:
    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        routing: Routing,
        prices: PriceTable,
        engines: Collection[str],
        store: Store,
        loaded_at: float,
    ) -> None:
        self._catalog = catalog
        self._routing = routing
        self._prices = prices
        self._engines = frozenset(engines)
        self._store = store
        self._created = int(loaded_at)  # models have no age of their own: the catalog's load

    async def list_all(self) -> list[dict[str, Any]]:
        """Every catalog model, by id."""
        active = await self._store.queue.active_by_engine()
        return [
            await self._entry(spec, active)
            for spec in sorted(self._catalog.models.values(), key=lambda s: s.name)
        ]

    async def _entry(self, spec: ModelSpec, active: Mapping[str, int]) -> dict[str, Any]:
        resolutions = sorted(spec.resolutions, key=list(Resolution).index)
        targets = [
            await self._target(spec, name, resolutions, active)
            for name in self._routing.targets_for(spec.name)
        ]
        # What a create would use: the first target; its history, else the next one's.
        typical = next((t["typical_seconds"] for t in targets if t["typical_seconds"]), None)
        return {
            "id": spec.name,
            "object": "model",
            "created": self._created,
            "owned_by": OWNER,
            "description": spec.description,
            "resolutions": [r.value for r in resolutions],
            "aspect_ratios": [a.value for a in AspectRatio],
            "durations": sorted(spec.durations_s),
            "default_duration": spec.default_duration_s,
            "image_modes": [m.value for m in Mode if m in spec.modes],
            "price": targets[0]["price"],
            "typical_seconds": typical,
            "available": any(t["status"] != "unconfigured" for t in targets),
            "targets": targets,
        }

    async def _target(
        self,
        spec: ModelSpec,
        name: str,
        resolutions: list[Resolution],
        active: Mapping[str, int],
    ) -> dict[str, Any]:
        samples = await self._store.durations.recent(name, spec.name)
        busy = active.get(name, 0)
        limit = self._routing.max_concurrent.get(name)
        return {
            "name": name,
            "status": _status(name in self._engines, busy=busy, limit=limit),
            "active": busy,
            "max_concurrent": limit,
            "price": self._prices.describe(spec.name, name, resolutions),
            "typical_seconds": round(quantile(samples, 0.5), 1) if samples else None,
        }


def _status(configured: bool, *, busy: int, limit: int | None) -> str:
    """`ok` (can start a task now), `busy` (at its concurrency limit: tasks wait in the queue)
    or `unconfigured` (this process has no such engine: tasks routed there cannot run)."""
    if not configured:
        return "unconfigured"
    return "busy" if limit is not None and busy >= limit else "ok"
