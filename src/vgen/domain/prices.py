"""`PriceTable`: what a video costs, per model, per engine target and per resolution, in one
currency (the `[prices]` section of vgen.toml).

Invariant: a price is a finite, non-negative amount per video-second; a model (or resolution)
without one is *not priced* (`None`), which is not the same as free (`0`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vgen.domain.catalog import Resolution

DEFAULT_CURRENCY = "USD"
ANY_MODEL = "*"
_ENTRY_KEYS = frozenset({"per_second", "by_resolution"})
_MODEL_KEYS = _ENTRY_KEYS | {"targets"}


@dataclass(frozen=True)
class Rate:
    """Amount per video-second: `by_resolution` first, else `per_second` (None: not priced)."""

    per_second: float | None = None
    by_resolution: Mapping[Resolution, float] = field(default_factory=dict)

    def for_resolution(self, resolution: Resolution) -> float | None:
        return self.by_resolution.get(resolution, self.per_second)


@dataclass(frozen=True)
class ModelPrice:
    """A model's rate, and the rates of the targets that cost differently (used whole: a
    target's entry replaces the model's, it does not merge with it)."""

    rate: Rate
    targets: Mapping[str, Rate] = field(default_factory=dict)

    def rate_on(self, target: str) -> Rate:
        return self.targets.get(target, self.rate)


@dataclass(frozen=True)
class PriceTable:
    currency: str = DEFAULT_CURRENCY
    models: Mapping[str, ModelPrice] = field(default_factory=dict)

    def rate(self, model: str, target: str, resolution: Resolution) -> float | None:
        """Amount per video-second of `model` rendered on `target` at `resolution`."""
        price = self.models.get(model) or self.models.get(ANY_MODEL)
        return price.rate_on(target).for_resolution(resolution) if price is not None else None

    def cost(
        self, model: str, target: str, *, video_seconds: float, resolution: Resolution
    ) -> float | None:
        """What `video_seconds` of `model` on `target` at `resolution` cost; None if the
        combination is not priced."""
        rate = self.rate(model, target, resolution)
        return None if rate is None else round(rate * max(0.0, video_seconds), 6)

    def describe(
        self, model: str, target: str, resolutions: Iterable[Resolution]
    ) -> dict[str, Any] | None:
        """The JSON-ready price of `model` on `target` (the models list), None if unpriced:
        `{"currency", "unit": "video_second", "per_second": {resolution: amount}}`."""
        rates = {r.value: self.rate(model, target, r) for r in sorted(resolutions, key=_order)}
        priced = {name: amount for name, amount in rates.items() if amount is not None}
        if not priced:
            return None
        return {"currency": self.currency, "unit": "video_second", "per_second": priced}


NO_PRICES = PriceTable()


def _order(resolution: Resolution) -> int:
    return list(Resolution).index(resolution)


def parse_prices(raw: Mapping[str, Any]) -> PriceTable:
    """The `[prices]` table of vgen.toml (docs/prices.md). Raises ValueError naming the entry
    that is wrong (unknown key, bad resolution, negative or non-numeric amount)."""
    unknown = set(raw) - {"currency", "models"}
    if unknown:
        raise ValueError(f"prices: unknown key {sorted(unknown)[0]!r}")
    currency = raw.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not 1 <= len(currency.strip()) <= 10:
        raise ValueError("prices.currency must be a short name such as 'USD'")
    models = raw.get("models", {})
    if not isinstance(models, Mapping):
        raise ValueError("prices.models must be a table of models")
    return PriceTable(
        currency=currency.strip(),
        models={
            str(name): _model_price(entry, f"prices.models.{name}")
            for name, entry in models.items()
        },
    )


def _model_price(entry: Any, where: str) -> ModelPrice:
    _check_table(entry, _MODEL_KEYS, where)
    targets = entry.get("targets", {})
    if not isinstance(targets, Mapping):
        raise ValueError(f"{where}.targets must be a table of targets")
    return ModelPrice(
        rate=_rate(entry, where),
        targets={
            str(name): _target_rate(target, f"{where}.targets.{name}")
            for name, target in targets.items()
        },
    )


def _target_rate(entry: Any, where: str) -> Rate:
    return _rate(_check_table(entry, _ENTRY_KEYS, where), where)


def _check_table(entry: Any, allowed: frozenset[str], where: str) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be a table")
    unknown = set(entry) - allowed
    if unknown:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    return entry


def _rate(entry: Mapping[str, Any], where: str) -> Rate:
    per_second = entry.get("per_second")
    by_resolution = entry.get("by_resolution", {})
    if not isinstance(by_resolution, Mapping):
        raise ValueError(f"{where}.by_resolution must be a table of resolution = amount")
    rates: dict[Resolution, float] = {}
    for name, amount in by_resolution.items():
        resolution = Resolution.parse(str(name))
        if resolution is None:
            raise ValueError(f"{where}.by_resolution: unknown resolution {name!r}")
        rates[resolution] = _amount(amount, f"{where}.by_resolution.{name}")
    return Rate(
        per_second=None if per_second is None else _amount(per_second, f"{where}.per_second"),
        by_resolution=rates,
    )


def _amount(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{where} must be a finite amount of at least 0")
    return float(value)
