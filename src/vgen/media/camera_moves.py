"""Slow camera moves over a still (the "Ken Burns" effect): a zoom and a pan.

Invariant: the view never leaves the still, and at zoom 1 it is exactly the cover-fitted frame.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vgen.media.frame import Frame

# The deepest zoom: gentle, yet reads as motion over 8 s. Stills are loaded this much larger
# than the output, so even the closest view has a source pixel per output pixel.
OVERSCAN = 1.15


@dataclass(frozen=True)
class CameraMove:
    """Zooms (>= 1; 1 shows the whole frame) and view centres (fractions of the still's size)."""

    start_zoom: float
    end_zoom: float
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]


def pick_move(rng: random.Random, *, from_full_frame: bool) -> CameraMove:
    """A random gentle move: a push in, a pull out, or a pan at a fixed zoom.

    With `from_full_frame` the move starts on the whole frame, so a video made from a first
    frame really opens on that frame.
    """
    kinds = ["push_in"] if from_full_frame else ["push_in", "pull_out", "pan"]
    kind = rng.choice(kinds)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    if kind == "pan":
        zoom = 1.0 + (OVERSCAN - 1.0) * rng.uniform(0.7, 1.0)
        return CameraMove(
            zoom, zoom, _edge_centre(zoom, angle), _edge_centre(zoom, angle + math.pi)
        )
    near = 1.0 + (OVERSCAN - 1.0) * rng.uniform(0.8, 1.0)
    reach = rng.uniform(0.3, 1.0)
    wide, close = (0.5, 0.5), _edge_centre(near, angle, reach)
    if kind == "push_in":
        return CameraMove(1.0, near, wide, close)
    return CameraMove(near, 1.0, close, wide)


def _edge_centre(zoom: float, angle: float, reach: float = 1.0) -> tuple[float, float]:
    """A view centre `reach` of the way from the middle towards the edge, in direction `angle`."""
    slack = 0.5 - 0.5 / zoom  # how far the centre may move before the view leaves the still
    return 0.5 + reach * slack * math.cos(angle), 0.5 + reach * slack * math.sin(angle)


class CameraRig:
    """Draws the view of `move` over `still` (RGBX, `OVERSCAN` x the output size) at a position."""

    def __init__(self, still: Frame, move: CameraMove, *, width: int, height: int) -> None:
        self._still = still
        self._move = move
        self._size = (width, height)
        corners = [(0.0, 0.0), (width - 1.0, 0.0), (0.0, height - 1.0), (width - 1.0, height - 1.0)]
        start, end = self._view(0.0), self._view(1.0)
        # A still point seen at an output corner at the start is seen here at the end.
        self.motion_px = max(
            _distance(_apply(_invert(end), _apply(start, corner)), corner) for corner in corners
        )

    def frame_at(self, position: float) -> Frame:
        return cv2.warpAffine(
            self._still,
            self._view(position),
            self._size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def _view(self, position: float) -> npt.NDArray[np.float64]:
        """The output -> still affine map at `position` (zoom interpolated geometrically)."""
        move = self._move
        zoom = move.start_zoom * (move.end_zoom / move.start_zoom) ** position
        centre_x = move.start_centre[0] + (move.end_centre[0] - move.start_centre[0]) * position
        centre_y = move.start_centre[1] + (move.end_centre[1] - move.start_centre[1]) * position
        still_h, still_w = self._still.shape[:2]
        width, height = self._size
        sx, sy = still_w / (zoom * width), still_h / (zoom * height)
        # Pixel centres: output x + 0.5 maps to still u + 0.5.
        return np.array(
            [
                [sx, 0.0, centre_x * still_w - (width / 2) * sx + 0.5 * sx - 0.5],
                [0.0, sy, centre_y * still_h - (height / 2) * sy + 0.5 * sy - 0.5],
            ],
            dtype=np.float64,
        )


def _invert(affine: cv2.typing.MatLike) -> cv2.typing.MatLike:
    return cv2.invertAffineTransform(affine)


def _apply(affine: cv2.typing.MatLike, point: tuple[float, float]) -> tuple[float, float]:
    x, y = point
    return (
        float(affine[0, 0] * x + affine[0, 1] * y + affine[0, 2]),
        float(affine[1, 0] * x + affine[1, 1] * y + affine[1, 2]),
    )


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])
