"""What a video file really holds, found by decoding it (not by trusting its headers).

Invariant: `frames` counts decoded frames; any file that does not decode raises EngineError.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
from av.video.stream import VideoStream

from vgen.domain.errors import EngineError


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    pix_fmt: str


def probe_video(path: str) -> VideoInfo:
    """Decode the first video stream of `path` and describe it.

    Raises:
        EngineError: the file is missing, is not a media file, has no video stream, or does not
            decode to at least one frame.
    """
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise EngineError(f"{path} has no video stream")
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            info = VideoInfo(
                codec=stream.codec_context.name,
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                fps=float(stream.average_rate or stream.guessed_rate or 0),
                frames=frames,
                duration_s=_duration_s(stream, container.duration),
                pix_fmt=stream.codec_context.pix_fmt or "",
            )
    except av.FFmpegError as exc:
        raise EngineError(f"{path} is not a decodable video: {exc}") from exc
    if info.frames == 0:
        raise EngineError(f"{path} holds no decodable video frames")
    return info


def _duration_s(stream: VideoStream, container_duration: int | None) -> float:
    # The stream's own duration is exact for MP4; the container's (in AV_TIME_BASE units) is the
    # fallback for formats that only record that.
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container_duration is not None:
        return container_duration / av.time_base
    return 0.0
