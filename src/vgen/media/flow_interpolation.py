"""Motion-compensated in-betweens: dense optical flow both ways, both frames warped toward t.

Invariant: `frame_at(0)` and `frame_at(1)` are the two frames unchanged; in between, content
moves along the estimated flow instead of cross-fading in place.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vgen.media.frame import Frame

# Flow is estimated with the long side at ~640 px: DIS is then ~30 ms per direction, and on the
# benchmark scene finer flow was no better (docs/benchmarks.md), because the warp below wants
# smooth flow.
FLOW_LONG_SIDE_PX = 640


class FlowInterpolator:
    """Draws the frame at any time t in [0, 1] between `first` and `last` (same-size RGBX).

    Time-t flows follow Super SloMo's linear-motion approximation (Jiang et al., CVPR 2018):
    F_t0 = -t(1-t) F01 + t^2 F10 and F_t1 = (1-t)^2 F01 - t(1-t) F10. They are formed at flow
    resolution with an offset lattice, so one bilinear upscale yields the full-size sampling
    map directly. Holds scratch buffers: not for use from two threads at once.
    """

    def __init__(self, first: Frame, last: Frame) -> None:
        if first.shape != last.shape or first.ndim != 3 or first.shape[2] != 4:
            raise ValueError(f"need two RGBX frames of one size, got {first.shape}, {last.shape}")
        self._first, self._last = first, last
        height, width = first.shape[:2]
        small = _flow_size(width, height)
        scale = np.array([width / small[0], height / small[1]], dtype=np.float32)
        forward, backward = _dis_flows(first, last, small)
        self._f01 = forward * scale
        self._sum = (forward + backward) * scale  # ~0 where the two flows agree
        self._lattice = _upsampling_lattice(small, scale)
        self.motion_px = float(
            max(
                np.linalg.norm(forward * scale, axis=2).max(),
                np.linalg.norm(backward * scale, axis=2).max(),
            )
        )
        self._small_map = np.empty_like(self._lattice)
        self._map = np.empty((height, width, 2), np.float32)
        self._warped_first = np.empty_like(first)
        self._warped_last = np.empty_like(last)

    def frame_at(self, t: float) -> Frame:
        """The frame at time `t` (no easing applied: t=0.5 is the true temporal middle)."""
        if t <= 0.0:
            return self._first.copy()
        if t >= 1.0:
            return self._last.copy()
        self._warp(self._first, -t, t * t, self._warped_first)
        self._warp(self._last, 1.0 - t, -t * (1.0 - t), self._warped_last)
        return cv2.addWeighted(self._warped_first, 1.0 - t, self._warped_last, t, 0.0)

    def _warp(self, source: Frame, a: float, b: float, out: Frame) -> None:
        """Sample `source` at x + a*F01(x) + b*(F01 + F10)(x)."""
        cv2.scaleAdd(self._f01, a, self._lattice, dst=self._small_map)
        cv2.scaleAdd(self._sum, b, self._small_map, dst=self._small_map)
        cv2.resize(
            self._small_map,
            (out.shape[1], out.shape[0]),
            dst=self._map,
            interpolation=cv2.INTER_LINEAR,
        )
        # OpenCV takes None for map2 (one 2-channel map); its type stubs do not say so.
        cv2.remap(  # type: ignore[call-overload]
            source, self._map, None, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_REPLICATE
        )


def _flow_size(width: int, height: int) -> tuple[int, int]:
    shrink = max(1.0, max(width, height) / FLOW_LONG_SIDE_PX)
    return max(16, round(width / shrink)), max(16, round(height / shrink))


def _dis_flows(
    first: Frame, last: Frame, size: tuple[int, int]
) -> tuple[cv2.typing.MatLike, cv2.typing.MatLike]:
    """Forward (first -> last) and backward flow at `size`, in pixels of that size."""
    grey = [
        cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY), size, interpolation=cv2.INTER_AREA)
        for image in (first, last)
    ]
    dis = cv2.DISOpticalFlow_create(  # type: ignore[attr-defined]  # missing from the stubs
        cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    )
    return dis.calc(grey[0], grey[1], None), dis.calc(grey[1], grey[0], None)


def _upsampling_lattice(
    size: tuple[int, int], scale: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Full-size coordinates of the small grid's pixel centres.

    cv2.resize (INTER_LINEAR) reads full pixel x at small (x + 0.5) / s - 0.5, so upscaling this
    lattice reproduces the identity map x exactly (bar the outermost half-pixel border).
    """
    xs = (np.arange(size[0], dtype=np.float32) + 0.5) * scale[0] - 0.5
    ys = (np.arange(size[1], dtype=np.float32) + 0.5) * scale[1] - 0.5
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.dstack([grid_x, grid_y])
