"""A `JobReporter` for driving engines directly in tests: it records what engines report."""

from __future__ import annotations


class RecordingReporter:
    def __init__(self) -> None:
        self.progress: list[int] = []
        self.upstream_ids: list[str] = []

    async def report_progress(self, percent: int) -> None:
        self.progress.append(percent)

    async def record_upstream_id(self, upstream_id: str) -> None:
        self.upstream_ids.append(upstream_id)
