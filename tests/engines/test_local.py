"""The `local` engine: renders in a process pool with real progress, and a render that is no
longer wanted (deadline, lost lease) stops early and leaves nothing behind."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import wait_for
from tests.video import decode_mp4
from vgen.domain.catalog import Resolution
from vgen.domain.requests import VideoRequest
from vgen.engines.base import EngineJob
from vgen.engines.local import LocalEngine

pytestmark = pytest.mark.anyio


class RecordingReporter:
    def __init__(self) -> None:
        self.progress: list[int] = []

    async def report_progress(self, percent: int) -> None:
        self.progress.append(percent)

    async def record_upstream_id(self, upstream_id: str) -> None:
        raise AssertionError("the local engine has no upstream")


@pytest.fixture
async def engine() -> AsyncIterator[LocalEngine]:
    local = LocalEngine(processes=1)
    yield local
    await local.aclose()


async def test_render_reports_rising_progress(engine: LocalEngine, tmp_path: Path) -> None:
    output = tmp_path / "out.mp4"
    reporter = RecordingReporter()
    job = EngineJob("vgen_t", VideoRequest(model="veo_3_1_fast", prompt="p"), {}, output)
    await engine.advance(job, reporter)
    assert decode_mp4(output.read_bytes()).frames == 192
    assert reporter.progress == sorted(reporter.progress) and len(reporter.progress) >= 2
    assert 0 < max(reporter.progress) <= 99


async def test_abandoned_render_stops_and_cleans_up(engine: LocalEngine, tmp_path: Path) -> None:
    output = tmp_path / "big.mp4"
    request = VideoRequest(model="veo_3_1_fast", prompt="p", resolution=Resolution.K4)
    reporter = RecordingReporter()
    with anyio.move_on_after(60):
        async with anyio.create_task_group() as group:

            async def abandon_once_rendering() -> None:
                while not reporter.progress or reporter.progress[-1] == 0:
                    await anyio.sleep(0.05)
                group.cancel_scope.cancel()

            group.start_soon(abandon_once_rendering)
            await engine.advance(EngineJob("vgen_t", request, {}, output), reporter)
    started = time.monotonic()
    # A 4K render takes ~30 s; abandoned, the child stops at its next progress check and the
    # renderer deletes its partial file. Both the output and the cancel marker disappear.
    wait_for(lambda: not any(tmp_path.iterdir()), timeout_s=20, message="render to stop")
    assert time.monotonic() - started < 20
    # The pool is free again: the next job runs (and completes) on the same single process.
    small = tmp_path / "small.mp4"
    job = EngineJob("vgen_u", VideoRequest(model="veo_3_1_fast", prompt="q"), {}, small)
    with anyio.fail_after(60):
        await engine.advance(job, RecordingReporter())
    assert decode_mp4(small.read_bytes()).frames == 192
