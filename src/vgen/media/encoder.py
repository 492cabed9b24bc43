"""The H.264 MP4 writer: libx264, yuv420p, constant frame rate, `+faststart`.

Invariant: frame i is stamped at exactly i/fps s, so n frames last exactly n/fps seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import av
import cv2
import numpy as np

from vgen.domain.errors import DISK_FAULT_ERRNOS, EngineError, StorageUnavailable
from vgen.media.frame import Frame

# ultrafast spends ~1/2 the CPU of veryfast (measured: docs/benchmarks.md). The renderer shares
# two cores with the encoder, and the bigger file (~3 Mbit/s at 720p) is a fair price.
DEFAULT_PRESET = "ultrafast"
DEFAULT_CRF = 23

_TO_I420 = {3: cv2.COLOR_RGB2YUV_I420, 4: cv2.COLOR_RGBA2YUV_I420}


@contextmanager
def _translated_av_errors(action: str) -> Iterator[None]:
    """Keep `av.*` exceptions inside media/: callers see StorageUnavailable when the disk
    failed (full, read-only), else EngineError; neither message carries the file's path."""
    try:
        yield
    except av.FFmpegError as exc:
        if exc.errno in DISK_FAULT_ERRNOS:
            raise StorageUnavailable.from_os_error(action, exc) from exc
        raise EngineError(f"{action} failed: {exc.strerror or exc.__class__.__name__}") from exc


class Mp4Writer:
    """Encodes RGB (H, W, 3) or RGBX (H, W, 4, the 4th channel ignored) uint8 frames to an MP4.

    Use as a context manager; leaving the block normally flushes the encoder and finalises the
    file, leaving it through an exception just closes it.
    """

    def __init__(
        self,
        path: str,
        *,
        width: int,
        height: int,
        fps: int,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even dimensions, got {width}x{height}")
        self.width = width
        self.height = height
        self.frames_written = 0
        with _translated_av_errors("opening the MP4 for writing"):
            self._container = av.open(path, mode="w", options={"movflags": "+faststart"})
            self._stream = self._container.add_stream("libx264", rate=fps)
            self._stream.width = width
            self._stream.height = height
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"preset": preset, "crf": str(crf)}

    def write(self, frame: Frame) -> None:
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(
                f"frame is {frame.shape[1]}x{frame.shape[0]}, expected {self.width}x{self.height}"
            )
        i420 = cv2.cvtColor(frame, _TO_I420[frame.shape[2]])
        with _translated_av_errors("encoding a frame"):
            planes = np.ascontiguousarray(i420, dtype=np.uint8)
            video_frame = av.VideoFrame.from_numpy_buffer(planes, format="yuv420p")
            video_frame.pts = self.frames_written
            self._container.mux(self._stream.encode(video_frame))
        self.frames_written += 1

    def close(self, *, flush: bool = True) -> None:
        with _translated_av_errors("finishing the MP4"):
            try:
                if flush:
                    self._container.mux(self._stream.encode(None))
            finally:
                self._container.close()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(flush=exc_type is None)
