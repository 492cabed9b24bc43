"""The offline `local` renderer (ENGINES.md §4): classical computer vision, not a generative model.

Invariant: the MP4 holds exactly duration_s * fps frames of the requested size, the same job
always renders the same frames, and a failed render leaves no file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vgen.domain.errors import EngineError
from vgen.media.camera_moves import OVERSCAN, CameraRig, pick_move
from vgen.media.caption import Caption
from vgen.media.easing import eased_positions
from vgen.media.encoder import Mp4Writer
from vgen.media.flow_interpolation import FlowInterpolator
from vgen.media.frame import Frame
from vgen.media.keyframes import render_sequence
from vgen.media.prefetch import prefetched
from vgen.media.procedural import ProceduralScene
from vgen.media.reference_reel import reel_frames
from vgen.media.stills import load_still

MAX_REFERENCES = 3
PROGRESS_EVERY = 12  # frames between progress reports
_PREFETCH_DEPTH = 4  # frames rendered ahead of the encoder; bounds memory at 4K


@dataclass(frozen=True)
class RenderJob:
    output_path: str
    width: int
    height: int
    prompt: str
    duration_s: int = 8
    fps: int = 24
    seed: int | None = None
    first_frame: str | None = None
    last_frame: str | None = None
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"size must be positive and even, got {self.width}x{self.height}")
        if self.duration_s < 1 or self.fps < 1:
            raise ValueError("duration_s and fps must be at least 1")
        if self.last_frame is not None and self.first_frame is None:
            raise ValueError("last_frame needs first_frame")
        if self.references and self.first_frame is not None:
            raise ValueError("references exclude first_frame/last_frame")
        if len(self.references) > MAX_REFERENCES:
            raise ValueError(f"at most {MAX_REFERENCES} references")

    @property
    def frame_count(self) -> int:
        return self.duration_s * self.fps

    @property
    def mode(self) -> str:
        if self.first_frame is not None:
            return "first_last" if self.last_frame is not None else "first_only"
        return "references" if self.references else "text_only"


@dataclass(frozen=True)
class RenderStats:
    frames: int
    width: int
    height: int
    fps: int
    mode: str  # "first_last" | "first_only" | "references" | "text_only"


def render_video(
    job: RenderJob, *, on_progress: Callable[[int, int], None] | None = None
) -> RenderStats:
    """Render `job` to `job.output_path`, reporting (frames_done, frames_total) as it goes.

    Raises:
        EngineError: an input image cannot be read, or the MP4 cannot be written.
    """
    total = job.frame_count
    frames = _frames(job)  # reads the inputs now, so a bad image fails before any output exists
    done = 0
    try:
        with (
            Mp4Writer(job.output_path, width=job.width, height=job.height, fps=job.fps) as mp4,
            contextlib.closing(prefetched(frames, depth=_PREFETCH_DEPTH)) as ahead,
        ):
            for frame in ahead:
                mp4.write(frame)
                done += 1
                if on_progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
                    on_progress(done, total)
        if done != total:
            raise EngineError(f"renderer produced {done} frames, expected {total}")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(job.output_path)
        raise
    return RenderStats(frames=done, width=job.width, height=job.height, fps=job.fps, mode=job.mode)


def _frames(job: RenderJob) -> Iterator[Frame]:
    """The job's frames as a lazy iterator; input images are loaded before it is returned."""
    w, h, count = job.width, job.height, job.frame_count
    overscan = (round(w * OVERSCAN), round(h * OVERSCAN))
    if job.first_frame is not None and job.last_frame is not None:
        interpolator = FlowInterpolator(
            load_still(job.first_frame, w, h), load_still(job.last_frame, w, h)
        )
        return render_sequence(interpolator, eased_positions(count))
    rng = random.Random(_seed(job))
    if job.first_frame is not None:
        move = pick_move(rng, from_full_frame=True)
        rig = CameraRig(load_still(job.first_frame, *overscan), move, width=w, height=h)
        return render_sequence(rig, eased_positions(count))
    if job.references:
        stills = [load_still(path, *overscan) for path in job.references]
        return reel_frames(stills, width=w, height=h, frame_count=count, rng=rng)
    scene = ProceduralScene(_seed(job), width=w, height=h)
    caption = Caption(job.prompt, width=w, height=h)
    return (caption.apply(scene.frame_at(i / job.fps)) for i in range(count))


def _seed(job: RenderJob) -> int:
    """A stable 64-bit seed from the prompt and the job's seed (not `hash()`: it is salted)."""
    digest = hashlib.sha256(f"{job.seed}\x00{job.prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
