"""Engine-test fixtures shared by every fake provider."""

from __future__ import annotations

import pytest

from vgen.media.renderer import RenderJob, render_video


@pytest.fixture(scope="session")
def upstream_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real (short) MP4 for fake providers to serve: vgen probes what it downloads."""
    path = tmp_path_factory.mktemp("upstream") / "clip.mp4"
    render_video(RenderJob(str(path), 640, 360, "upstream clip", duration_s=2))
    return path.read_bytes()
