"""The price table: a target's entry replaces its model's, a resolution's rate comes before the
flat one, `*` prices every other model, and a wrong table is refused naming the entry."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vgen.config import Settings, load_routing
from vgen.domain.catalog import Resolution
from vgen.domain.prices import parse_prices

EXAMPLE = """
[prices]
currency = "EUR"

[prices.models.veo_3_1_fast]
per_second = 0.15
by_resolution = { "4k" = 0.35 }

[prices.models.veo_3_1_fast.targets.vertex]
by_resolution = { "720p" = 0.10, "1080p" = 0.12 }

[prices.models."*"]
per_second = 0.05
"""


def table() -> dict[str, object]:
    return dict(tomllib.loads(EXAMPLE)["prices"])


def test_cost_takes_the_target_entry_then_the_resolution_then_the_flat_rate() -> None:
    prices = parse_prices(table())
    assert prices.currency == "EUR"
    fast = "veo_3_1_fast"
    assert prices.cost(fast, "relay", video_seconds=8, resolution=Resolution.P720) == 1.2
    assert prices.cost(fast, "relay", video_seconds=8, resolution=Resolution.K4) == 2.8
    assert prices.cost(fast, "vertex", video_seconds=8, resolution=Resolution.P1080) == 0.96
    # The vertex entry replaces the model's: it has no 4K rate and no flat rate.
    assert prices.cost(fast, "vertex", video_seconds=8, resolution=Resolution.K4) is None
    assert prices.cost("anything", "local", video_seconds=4, resolution=Resolution.K4) == 0.2


def test_unpriced_model_costs_none_and_describes_as_none() -> None:
    prices = parse_prices({"models": {"veo_3_1_pro": {"per_second": 0.4}}})
    assert prices.currency == "USD"
    assert prices.cost("veo_3_1_fast", "local", video_seconds=8, resolution=Resolution.P720) is None
    assert prices.describe("veo_3_1_fast", "local", Resolution) is None
    assert prices.describe("veo_3_1_pro", "local", [Resolution.K4, Resolution.P720]) == {
        "currency": "USD",
        "unit": "video_second",
        "per_second": {"720p": 0.4, "4K": 0.4},
    }


def test_describe_lists_only_priced_resolutions_in_order() -> None:
    prices = parse_prices(table())
    described = prices.describe("veo_3_1_fast", "vertex", Resolution)
    assert described == {
        "currency": "EUR",
        "unit": "video_second",
        "per_second": {"720p": 0.1, "1080p": 0.12},
    }


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"currency": ""}, "currency"),
        ({"colour": "red"}, "colour"),
        ({"models": {"m": {"per_second": -1}}}, "prices.models.m.per_second"),
        ({"models": {"m": {"per_second": "0.1"}}}, "prices.models.m.per_second"),
        ({"models": {"m": {"per_second": True}}}, "prices.models.m.per_second"),
        ({"models": {"m": {"by_resolution": {"8K": 1}}}}, "8K"),
        ({"models": {"m": {"per_minute": 1}}}, "per_minute"),
        ({"models": {"m": {"targets": {"t": {"per_second": float("inf")}}}}}, "targets.t"),
        ({"models": {"m": 3}}, "prices.models.m"),
    ],
)
def test_a_wrong_table_is_refused_naming_the_entry(raw: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        parse_prices(raw)


def test_a_wrong_table_in_vgen_toml_stops_loading(tmp_path: Path) -> None:
    config = tmp_path / "vgen.toml"
    config.write_text('[prices.models.tiny]\nper_second = "cheap"\n')
    with pytest.raises(ValueError, match="per_second must be a number"):
        load_routing(Settings(data_dir=tmp_path, config=config))
    config.write_text(EXAMPLE)
    assert parse_prices(load_routing(Settings(data_dir=tmp_path, config=config)).prices) == (
        parse_prices(table())
    )
