"""Decode MP4s back with PyAV for assertions."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np


@dataclass(frozen=True)
class Decoded:
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    first: np.ndarray
    last: np.ndarray


def decode_mp4(data: bytes) -> Decoded:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        return Decoded(
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=float(stream.average_rate or 0),
            frames=len(frames),
            duration_s=duration,
            first=frames[0],
            last=frames[-1],
        )
