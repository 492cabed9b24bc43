"""A fast fake Veo-task upstream for `bench/inflight.py`, run in its own process: each job is done
a fixed span of *simulated* time after its submit; every submit, poll and download is counted.

Simulated time is shared with the worker through `SimClock` (same epoch and speed in both
processes), so "done after 180 s" means 180 simulated seconds on the worker's own clock.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HOST = "127.0.0.1"
UVICORN_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "loop": "uvloop",
    "log_level": "warning",
    "access_log": False,
}


@dataclass(frozen=True)
class SimClock:
    """Unix-like seconds that run `speed` times faster than the wall clock from `epoch`."""

    epoch: float
    speed: float

    def __call__(self) -> float:
        return self.epoch + (time.time() - self.epoch) * self.speed

    def to_real(self, sim: float) -> float:
        return self.epoch + (sim - self.epoch) / self.speed


@dataclass(frozen=True)
class JobTiming:
    job_seconds: float
    spread: float  # each job takes job_seconds * (1 ± spread), uniformly
    seed: int


class _Job:
    __slots__ = (
        "id", "key", "submit_real", "submit_sim", "done_sim", "submits", "polls",
        "polls_after_done", "poll_real", "seen_done_real", "downloads",
    )  # fmt: skip

    def __init__(self, job_id: str, key: str, *, now_sim: float, duration_s: float) -> None:
        self.id, self.key = job_id, key
        self.submit_real, self.submit_sim = time.time(), now_sim
        self.done_sim = now_sim + duration_s
        self.submits, self.polls, self.polls_after_done, self.downloads = 1, 0, 0, 0
        self.poll_real: list[float] = []  # wall clock of each poll
        self.seen_done_real: float | None = None  # the poll that first answered "completed"


class FakeUpstream:
    """ASGI app: `POST /v1/veo/videos`, `GET /v1/result/{id}`, `GET /files/{id}.mp4`, and
    `GET /stats` (all per-job counters and times) / `GET /totals` (cheap running totals)."""

    def __init__(self, *, clock: SimClock, timing: JobTiming, video: bytes, base_url: str) -> None:
        self._clock, self._timing, self._video = clock, timing, video
        self._base_url = base_url
        self._rng = random.Random(timing.seed)
        self._jobs: dict[str, _Job] = {}
        self._by_key: dict[str, _Job] = {}
        self._unknown = 0
        self._poll_times: list[float] = []  # wall clock of every poll, in order
        self._download_times: list[float] = []
        self._totals = {"submits": 0, "polls": 0, "downloads": 0, "done_seen": 0}
        self._video_headers = [
            (b"content-type", b"video/mp4"),
            (b"content-length", str(len(video)).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/v1/veo/videos":
            await self._submit(scope, receive, send)
        elif path.startswith("/v1/result/"):
            await self._poll(path.removeprefix("/v1/result/"), send)
        elif path.startswith("/files/"):
            await self._download(path.removeprefix("/files/").removesuffix(".mp4"), send)
        elif path == "/totals":
            await _json(send, {**self._totals, "jobs": len(self._jobs), "unknown": self._unknown})
        elif path == "/stats":
            await _json(send, self.stats())
        else:
            await _json(send, {"code": 404, "msg": "not found"}, status=404)

    async def _submit(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass  # the body is not needed, only drained
        headers = dict(scope["headers"])
        key = headers.get(b"idempotency-key", b"").decode()
        self._totals["submits"] += 1
        job = self._by_key.get(key) if key else None
        if job is not None:
            job.submits += 1  # a resubmit: the invariant the bench checks is that none happen
        else:
            spread = self._timing.spread
            duration_s = self._timing.job_seconds * (1 + self._rng.uniform(-spread, spread))
            job = _Job(
                f"job{len(self._jobs):06d}", key, now_sim=self._clock(), duration_s=duration_s
            )
            self._jobs[job.id] = job
            if key:
                self._by_key[key] = job
        await _json(send, {"id": job.id, "status": "queued"})

    async def _poll(self, job_id: str, send: Send) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            self._unknown += 1
            await _json(send, {"code": 404, "msg": "task not found"}, status=404)
            return
        self._totals["polls"] += 1
        job.polls += 1
        now_real, now_sim = time.time(), self._clock()
        self._poll_times.append(now_real)
        job.poll_real.append(now_real)
        if now_sim < job.done_sim:
            span = job.done_sim - job.submit_sim
            progress = int(99 * (now_sim - job.submit_sim) / span) if span > 0 else 0
            await _json(send, {"id": job.id, "status": "processing", "progress": progress})
            return
        job.polls_after_done += 1
        if job.seen_done_real is None:
            job.seen_done_real = now_real
            self._totals["done_seen"] += 1
        url = f"{self._base_url}/files/{job.id}.mp4"
        await _json(send, {"id": job.id, "status": "completed", "progress": 100, "video_url": url})

    async def _download(self, job_id: str, send: Send) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            await _json(send, {"code": 404, "msg": "no such video"}, status=404)
            return
        self._totals["downloads"] += 1
        job.downloads += 1
        self._download_times.append(time.time())
        await send({"type": "http.response.start", "status": 200, "headers": self._video_headers})
        await send({"type": "http.response.body", "body": self._video})

    def stats(self) -> dict[str, Any]:
        """Per-job columns (one list per field, in submit order) plus the totals."""
        jobs = list(self._jobs.values())
        columns = {name: [getattr(j, name) for j in jobs] for name in _Job.__slots__}
        return {
            "totals": self._totals,
            "unknown": self._unknown,
            "jobs": columns,
            "poll_times": self._poll_times,
            "download_times": self._download_times,
        }


async def _json(send: Send, body: Any, *, status: int = 200) -> None:
    payload = orjson.dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def make_clip(*, seconds: int = 1, size: int = 64, fps: int = 24) -> bytes:
    """A small valid H.264 MP4 (moving gradient), the one video every job "produces"."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        ramp = np.arange(size, dtype=np.uint8)[None, :, None] * 3
        for i in range(seconds * fps):
            rgb = np.broadcast_to(ramp + np.uint8(i * 5), (size, size, 3)).copy()
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def serve(port: int, clock: SimClock, timing: JobTiming) -> None:
    """Process entry point: serve the fake on `HOST:port` until terminated."""
    import uvicorn

    base_url = f"http://{HOST}:{port}"
    app = FakeUpstream(clock=clock, timing=timing, video=make_clip(), base_url=base_url)
    uvicorn.run(app, host=HOST, port=port, lifespan="off", **UVICORN_OPTIONS)
