"""Motion-compensated in-betweens: dense optical flow both ways, both frames warped toward t.

Invariant: `frame_at(0)` and `frame_at(1)` are the two frames unchanged; in between, content
moves along the estimated flow instead of cross-fading in place, and content that only one of
the two frames shows (it is being covered or uncovered) is taken from that frame alone.
"""

from __future__ import annotations

import math
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from vgen.media.frame import Frame

# Flow is estimated with the long side at ~640 px: DIS is then ~30 ms per direction, and finer
# flow was no better on the benchmark scene (docs/benchmarks.md). Everything else done once per
# pair, and the forward splatting done per drawn frame, also runs at this size.
FLOW_LONG_SIDE_PX = 640

Image = cv2.typing.MatLike  # float32 flows and error maps, uint8 pictures and masks


def _ring(radii: tuple[int, ...], directions: int) -> tuple[tuple[int, int], ...]:
    offsets: list[tuple[int, int]] = []
    for radius in radii:
        for k in range(directions):
            angle = 2 * math.pi * k / directions
            offset = (round(radius * math.cos(angle)), round(radius * math.sin(angle)))
            if offset not in offsets:
                offsets.append(offset)
    return tuple(offsets)


# DIS flow is smooth across motion boundaries: a band of background beside a moving object
# moves with the object. Each flow vector is replaced by the neighbour's (at these offsets, in
# flow pixels) that matches the other frame clearly better (mean grey-level difference over a
# 7x7 window, by more than the margin), which puts the boundary back on the object's edge.
SHARPEN_OFFSETS = _ring((4, 8, 16), 8)
SHARPEN_WINDOW = 7
SHARPEN_MARGIN = 2.0
# A pixel whose forward and backward flows disagree by more than 1.5 flow pixels and 10% of its
# motion (DIS is that loose on flat surfaces) is taken as occluded in the other frame. No match
# exists for it, so its flow is copied from a nearby consistent pixel (at these offsets): the one
# of the closest colour (3x3 mean; each flow pixel of the donor's own inconsistency counts as 16
# grey levels), i.e. most likely from the same surface.
INCONSISTENT_PX = 1.5
INCONSISTENT_SHARE = 0.1
FILL_OFFSETS = _ring((2, 4, 8, 16, 32), 8)
FILL_BLUR = 3
FILL_ERROR_WEIGHT = 16.0
# Where more than 80% of a 61x61 neighbourhood is inconsistent (unrelated pictures, motion
# beyond what DIS follows), occlusion reasoning is noise: there the time-t flows fall back to
# Super SloMo's smooth approximation and the two warps are blended everywhere.
UNRELIABLE_WINDOW = 61
UNRELIABLE_SHARE = 0.8
# Per drawn frame, a 5x5 median of the time-t flow: where a surface's flow is uneven (DIS on flat
# surfaces), pixels of it land apart, and what lies behind would show through the gaps.
TIME_T_MEDIAN = 5


class FlowInterpolator:
    """Draws the frame at any time t in [0, 1] between `first` and `last` (same-size RGBX).

    Once per pair, at flow resolution: DIS flow both ways, sharpened at motion boundaries and
    filled in at occlusions (see the constants above). Per drawn frame, each frame's flow is
    splatted forward to time t (a 2x2 footprint per pixel; where pixels meet, the one with the
    most consistent flow wins) and median-filtered. That is the time-t flow back to that frame,
    with sharp motion boundaries, and the splat also shows where each frame sees anything at
    time t. Each frame is then backward-warped with its time-t flow (one bilinear upscale of
    the flow-resolution map, one remap), and the two are blended, except where only one frame
    sees the content: there that frame is used alone.

    In unreliable regions the time-t flows follow Super SloMo's linear-motion approximation
    (Jiang et al., CVPR 2018): F_t0 = -t(1-t) F01 + t^2 F10 and F_t1 = (1-t)^2 F01 - t(1-t) F10.
    Holds scratch buffers: not for use from two threads at once.
    """

    def __init__(self, first: Frame, last: Frame) -> None:
        if first.shape != last.shape or first.ndim != 3 or first.shape[2] != 4:
            raise ValueError(f"need two RGBX frames of one size, got {first.shape}, {last.shape}")
        self._first, self._last = first, last
        height, width = first.shape[:2]
        small = _flow_size(width, height)
        self._small = small
        scale = np.array([width / small[0], height / small[1]], dtype=np.float32)
        colour = [
            cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGBA2RGB), small, interpolation=cv2.INTER_AREA)
            for image in (first, last)
        ]
        forward, backward = _dis_flows(first, last, small)
        grid_x, grid_y = np.meshgrid(
            np.arange(small[0], dtype=np.float32), np.arange(small[1], dtype=np.float32)
        )
        self._grid: Image = np.dstack([grid_x, grid_y])
        self._lattice = _upsampling_lattice(small, scale)

        # Fallback (Super SloMo) terms from the raw flows, in full-size pixels.
        self._f01 = forward * scale
        self._sum = (forward + backward) * scale

        sharp_fw = self._sharpen(colour[0], colour[1], forward)
        sharp_bw = self._sharpen(colour[1], colour[0], backward)
        error_fw = self._inconsistency(sharp_fw, sharp_bw)
        error_bw = self._inconsistency(sharp_bw, sharp_fw)
        occluded_fw, occluded_bw = _occluded(sharp_fw, error_fw), _occluded(sharp_bw, error_bw)
        share = cv2.blur(
            cv2.bitwise_or(occluded_fw, occluded_bw), (UNRELIABLE_WINDOW, UNRELIABLE_WINDOW)
        )
        self._unreliable = _above(share, UNRELIABLE_SHARE * 255)
        self._any_unreliable = cv2.countNonZero(self._unreliable) > 0
        flows = (
            self._fill_occluded(colour[0], sharp_fw, error_fw, occluded_fw),
            self._fill_occluded(colour[1], sharp_bw, error_bw, occluded_bw),
        )
        # Sharpening and filling only copy vectors around, so the raw flows bound the motion.
        self.motion_px = float(
            max(np.linalg.norm(flow * scale, axis=2).max() for flow in (forward, backward))
        )

        # Splatting state: the canvas has room for any landing spot, so nothing is clipped.
        self._pad = math.ceil(max(float(np.abs(flow).max()) for flow in flows)) + 2
        self._canvas = np.empty(
            (small[1] + 2 * self._pad, small[0] + 2 * self._pad), dtype=np.float32
        )
        # Landing spots are rounded down (-0.5, then rounded to nearest) onto the canvas.
        self._start = (grid_x + (self._pad - 0.5), grid_y + (self._pad - 0.5))
        self._sources = (
            _SplatSource(flows[0], error_fw, scale),
            _SplatSource(flows[1], error_bw, scale),
        )

        self._map = np.empty((height, width, 2), np.float32)
        self._warped = (np.empty_like(first), np.empty_like(last))
        self._footprint = np.ones((2, 2), np.uint8)

    def frame_at(self, t: float) -> Frame:
        """The frame at time `t` (no easing applied: t=0.5 is the true temporal middle)."""
        if t <= 0.0:
            return self._first.copy()
        if t >= 1.0:
            return self._last.copy()
        height, width = self._first.shape[:2]
        seen = []
        for side, (fraction, source) in enumerate(((t, self._first), (1.0 - t, self._last))):
            small_map, covered = self._time_t_map(side, fraction, t)
            seen.append(covered)
            cv2.resize(small_map, (width, height), dst=self._map, interpolation=cv2.INTER_LINEAR)
            # OpenCV takes None for map2 (one 2-channel map); its type stubs do not say so.
            cv2.remap(  # type: ignore[call-overload, unused-ignore]
                source,
                self._map,
                None,
                cv2.INTER_LINEAR,
                dst=self._warped[side],
                borderMode=cv2.BORDER_REPLICATE,
            )
        out = cv2.addWeighted(self._warped[0], 1.0 - t, self._warped[1], t, 0.0)
        scale_x, scale_y = width / self._small[0], height / self._small[1]
        for side in (0, 1):
            only = cv2.bitwise_and(seen[side], cv2.bitwise_not(seen[1 - side]))
            if not cv2.countNonZero(only):
                continue
            # Only the bounding box of the mask is upscaled and copied (exact for whole scales).
            x, y, w, h = cv2.boundingRect(only)
            left, top = math.floor(x * scale_x), math.floor(y * scale_y)
            right = min(width, math.ceil((x + w) * scale_x))
            bottom = min(height, math.ceil((y + h) * scale_y))
            full = cv2.resize(
                only[y : y + h, x : x + w],
                (right - left, bottom - top),
                interpolation=cv2.INTER_NEAREST,
            )
            cv2.copyTo(
                self._warped[side][top:bottom, left:right], full, out[top:bottom, left:right]
            )
        return out

    def _time_t_map(self, side: int, fraction: float, t: float) -> tuple[Image, Image]:
        """Flow-resolution sampling map of frame `side` at time t, and where that frame sees.

        `fraction` is how far frame `side` has moved toward the other one: t for the first
        frame, 1 - t for the last.
        """
        flow, winner = self._splat(self._sources[side], fraction)
        covered = _above(winner, 0)
        # The median runs on 1/16 px fixed point (+/-2048 px): OpenCV's 16-bit median is fast.
        fixed = cv2.addWeighted(flow, 16.0, flow, 0.0, 32768.0, dtype=cv2.CV_16U)
        median = cv2.medianBlur(fixed, TIME_T_MEDIAN)
        flow = cv2.addWeighted(median, 1 / 16, median, 0.0, -2048.0, dtype=cv2.CV_32F)
        small_map = cv2.scaleAdd(flow, -fraction, self._lattice)
        if self._any_unreliable:
            a, b = (-t, t * t) if side == 0 else (1.0 - t, -t * (1.0 - t))
            smooth = cv2.scaleAdd(self._sum, b, cv2.scaleAdd(self._f01, a, self._lattice))
            cv2.copyTo(smooth, self._unreliable, small_map)
            covered = cv2.bitwise_or(covered, self._unreliable)
        return small_map, covered

    def _splat(self, source: _SplatSource, fraction: float) -> tuple[Image, Image]:
        """Forward-splat `source` by `fraction` of its flow; where pixels meet, best rank wins.

        Each pixel covers the 2x2 flow pixels around where it lands, so a stretched surface
        has no cracks for pixels behind it to show through. Returns the flow (full-size pixels,
        0 where nothing landed) that each flow-resolution pixel's winner carries, and the
        winners' ranks (0: nothing landed).
        """
        width, height = self._small
        pad, canvas = self._pad, self._canvas
        # addWeighted rounds to the nearest integer when it writes int32.
        x = cv2.addWeighted(source.dx, fraction, self._start[0], 1.0, 0.0, dtype=cv2.CV_32S)
        y = cv2.addWeighted(source.dy, fraction, self._start[1], 1.0, 0.0, dtype=cv2.CV_32S)
        index = cv2.addWeighted(y, float(canvas.shape[1]), x, 1.0, 0.0, dtype=cv2.CV_32S)
        canvas.fill(0.0)
        np.maximum.at(canvas.reshape(-1), cast(npt.NDArray[np.int32], index).ravel(), source.rank)
        # A pixel landing at floor position p covers p and p + 1 in each axis.
        landed = canvas[pad - 1 : pad + height, pad - 1 : pad + width]
        covered = cv2.dilate(landed, self._footprint, anchor=(1, 1))[1:, 1:]
        winner = covered.astype(np.int32)
        flow = np.take(source.table, winner).view(np.float32).reshape(height, width, 2)
        return flow, winner

    def _sharpen(self, image: Image, other: Image, flow: Image) -> Image:
        """Move motion boundaries onto image edges: per pixel, the best-matching nearby vector."""
        shifted = _Shifted(flow, max(max(abs(dx), abs(dy)) for dx, dy in SHARPEN_OFFSETS))
        best = flow.copy()
        best_cost = self._match_cost(image, other, flow)
        for dx, dy in SHARPEN_OFFSETS:
            candidate = shifted.at(dx, dy)
            cost = self._match_cost(image, other, candidate)
            better = cv2.compare(cost, best_cost - SHARPEN_MARGIN, cv2.CMP_LT)
            cv2.copyTo(candidate, better, best)
            cv2.copyTo(cost, better, best_cost)
        return best

    def _match_cost(self, image: Image, other: Image, flow: Image) -> Image:
        # OpenCV takes None for map2 (one 2-channel map); its type stubs do not say so.
        warped = cv2.remap(  # type: ignore[call-overload, unused-ignore]
            other,
            cv2.add(self._grid, flow),
            None,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        difference = cv2.cvtColor(cv2.absdiff(image, warped), cv2.COLOR_RGB2GRAY)
        window = (SHARPEN_WINDOW, SHARPEN_WINDOW)
        return cv2.boxFilter(difference, cv2.CV_32F, window)

    def _inconsistency(self, flow: Image, reverse: Image) -> Image:
        """|flow(x) + reverse(x + flow(x))|: ~0 where x is seen in both frames."""
        # OpenCV takes None for map2 (one 2-channel map); its type stubs do not say so.
        back = cv2.remap(  # type: ignore[call-overload, unused-ignore]
            reverse,
            cv2.add(self._grid, flow),
            None,
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        return cv2.magnitude(*cv2.split(cv2.add(flow, back)))

    def _fill_occluded(self, image: Image, flow: Image, error: Image, occluded: Image) -> Image:
        """Give occluded pixels the flow of a nearby consistent pixel of the same surface."""
        if not cv2.countNonZero(occluded):
            return flow
        reach = max(max(abs(dx), abs(dy)) for dx, dy in FILL_OFFSETS)
        consistent = _Shifted(cv2.bitwise_not(occluded), reach, cv2.BORDER_CONSTANT)
        smooth = cv2.blur(image, (FILL_BLUR, FILL_BLUR))
        shifted_colour = _Shifted(smooth, reach)
        shifted_flow = _Shifted(flow, reach)
        shifted_error = _Shifted(error, reach)
        best = flow.copy()
        best_cost = np.full(error.shape, np.inf, np.float32)
        for dx, dy in FILL_OFFSETS:
            difference = cv2.absdiff(smooth, shifted_colour.at(dx, dy))
            cost = cv2.scaleAdd(
                shifted_error.at(dx, dy),
                FILL_ERROR_WEIGHT,
                cv2.cvtColor(difference, cv2.COLOR_RGB2GRAY).astype(np.float32),
            )
            better = cv2.bitwise_and(
                cv2.compare(cost, best_cost, cv2.CMP_LT),
                cv2.bitwise_and(consistent.at(dx, dy), occluded),
            )
            cv2.copyTo(shifted_flow.at(dx, dy), better, best)
            cv2.copyTo(cost, better, best_cost)
        return best


class _SplatSource:
    """One frame's flow, laid out for `FlowInterpolator._splat`."""

    def __init__(self, flow: Image, error: Image, scale: Image) -> None:
        self.dx = np.ascontiguousarray(flow[..., 0])
        self.dy = np.ascontiguousarray(flow[..., 1])
        # Rank 1 is the least consistent pixel (1/8 flow pixel steps; a stable sort of 8-bit
        # keys is a radix sort); 0 is kept for "nothing landed here".
        key = np.minimum(error * 8.0, 255.0).astype(np.uint8)
        order = np.argsort(255 - key.ravel(), kind="stable")
        self.rank = np.empty(order.size, np.float32)  # exact: fewer than 2**24 pixels
        self.rank[order] = np.arange(1, order.size + 1, dtype=np.float32)
        table = np.zeros((order.size + 1, 2), np.float32)
        table[1:] = (flow * scale).reshape(-1, 2)[order]
        self.table = table.view(np.int64).ravel()  # one item per vector: a cheap gather


class _Shifted:
    """Views of an image shifted by whole pixels: `at(dx, dy)[y, x]` is `image[y + dy, x + dx]`."""

    def __init__(self, image: Image, reach: int, border: int = cv2.BORDER_REPLICATE) -> None:
        self._reach = reach
        self._height, self._width = image.shape[:2]
        self._padded = cv2.copyMakeBorder(image, reach, reach, reach, reach, border, value=0)

    def at(self, dx: int, dy: int) -> Image:
        top, left = self._reach + dy, self._reach + dx
        return self._padded[top : top + self._height, left : left + self._width]


def _occluded(flow: Image, error: Image) -> Image:
    """Where the forward-backward disagreement says the pixel has no match in the other frame."""
    limit = np.maximum(cv2.magnitude(*cv2.split(flow)) * INCONSISTENT_SHARE, INCONSISTENT_PX)
    return cv2.compare(error, limit, cv2.CMP_GT)


def _above(image: Image, value: float) -> Image:
    """255 where `image` > `value`, else 0 (8-bit)."""
    # OpenCV takes a scalar for src2; its type stubs do not say so.
    mask: Image = cv2.compare(image, value, cv2.CMP_GT)  # type: ignore[call-overload, unused-ignore]
    return mask


def _flow_size(width: int, height: int) -> tuple[int, int]:
    shrink = max(1.0, max(width, height) / FLOW_LONG_SIDE_PX)
    return max(16, round(width / shrink)), max(16, round(height / shrink))


def _dis_flows(first: Frame, last: Frame, size: tuple[int, int]) -> tuple[Image, Image]:
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
