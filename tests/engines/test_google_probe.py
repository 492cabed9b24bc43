"""`vgen engines` and start-up on Google targets: reachable, credentials accepted, and whether
Google still serves each routed model (Gemini's model list, Vertex's publisher models)."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.engines.vertex_keys import write_key_file
from tests.fakes.gemini import GeminiFake
from tests.fakes.vertex import VertexFake
from tests.support import LiveServer, serving
from vgen.config import Settings


@pytest.fixture
def gemini() -> Iterator[GeminiFake]:
    with serving(
        GeminiFake(served_models=["veo-3.1-generate-preview", "gemini-3.7-flash"])
    ) as fake:
        yield fake


@pytest.fixture
def vertex() -> Iterator[VertexFake]:
    with serving(VertexFake(known_models={"veo-3.1-generate-001"})) as fake:
        yield fake


def write_config(path: Path, gemini: GeminiFake, vertex: VertexFake, key: Path) -> Path:
    path.write_text(
        f"""
[targets.google]
type = "gemini"
base_url = "{gemini.base_url}"
api_key = "gemini-key"

[targets.badkey]
type = "gemini"
base_url = "{gemini.base_url}"
api_key = "wrong"

[targets.cloud]
type = "vertex"
project = "p1"
base_url = "{vertex.base_url}"
credentials_file = "{key}"

[routes]
veo_3_1_pro = ["cloud", "google"]
veo_3_1_fast = ["cloud", "google", "badkey"]
"""
    )
    return path


def test_vgen_engines_shows_credentials_and_which_upstream_models_exist(
    tmp_path: Path, gemini: GeminiFake, vertex: VertexFake
) -> None:
    config = write_config(
        tmp_path / "vgen.toml", gemini, vertex, write_key_file(tmp_path / "key.json", vertex)
    )
    result = subprocess.run(
        [sys.executable, "-m", "vgen", "engines", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "400"},
    )
    assert result.returncode == 0, result.stderr
    rows = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.count("│") > 3 and line.split("│")[1].strip()
    }
    assert "veo_3_1_pro → veo-3.1-generate-preview ✓" in rows["google"]
    assert "veo_3_1_fast → veo-3.1-fast-generate-preview missing" in rows["google"]
    assert "ok" in rows["google"] and "credentials refused" in rows["badkey"]
    assert "veo_3_1_pro → veo-3.1-generate-001 ✓" in rows["cloud"]
    assert "veo_3_1_fast → veo-3.1-fast-generate-001 missing" in rows["cloud"]
    assert "ok" in rows["cloud"] and vertex.issued == ["ya29.fake-1"]


def test_start_up_warns_about_models_the_gemini_key_cannot_use(
    settings: Settings,
    make_server: Callable[..., LiveServer],
    gemini: GeminiFake,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = tmp_path / "vgen.toml"
    config.write_text(
        f"""
[targets.google]
type = "gemini"
base_url = "{gemini.base_url}"
api_key = "gemini-key"

[routes]
veo_3_1_pro = ["google"]
veo_3_1_fast = ["google"]
"""
    )
    with caplog.at_level(logging.WARNING, logger="vgen.engines"):
        make_server(settings.model_copy(update={"config": config}))
    warnings = [r.getMessage() for r in caplog.records if r.name == "vgen.engines"]
    assert len(warnings) == 1, warnings
    assert "veo-3.1-fast-generate-preview" in warnings[0] and "VGEN_VERTEX_PROJECT" in warnings[0]
