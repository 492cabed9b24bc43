"""Text-only scenes: a drifting, seeded colour field (interfering waves plus glowing orbs).

Invariant: the picture is a pure function of (seed, time), so the same prompt and seed always
render the same video, and a different seed gives a different palette and motion.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np
import numpy.typing as npt

from vgen.media.frame import Frame

_WAVES = 4
_ORBS = 5
_SHRINK = 4  # the field is smooth: computed at 1/4 size, upscaled bilinearly


class ProceduralScene:
    """Every term of the field is separable (sin(a+b) = sin a cos b + cos a sin b, and a round
    Gaussian is a product of two 1-D ones), so a frame is one small matrix product."""

    def __init__(self, seed: int, *, width: int, height: int) -> None:
        rng = np.random.default_rng(seed)
        self._size = (width, height)
        aspect = width / height
        self._x = np.linspace(0.0, aspect, max(16, width // _SHRINK))
        self._y = np.linspace(0.0, 1.0, max(16, height // _SHRINK))
        self._wave_k = rng.uniform(-7.0, 7.0, size=(_WAVES, 2))
        self._wave_speed = rng.uniform(0.3, 1.1, size=_WAVES) * rng.choice([-1.0, 1.0], _WAVES)
        self._wave_phase = rng.uniform(0.0, 2 * np.pi, size=_WAVES)
        self._orb_base = np.stack(
            [rng.uniform(0.2, 0.8, _ORBS) * aspect, rng.uniform(0.2, 0.8, _ORBS)], axis=1
        )
        self._orb_swing = rng.uniform(0.05, 0.35, size=(_ORBS, 2))
        self._orb_rate = rng.uniform(0.05, 0.35, size=(_ORBS, 2))  # rad/s
        self._orb_phase = rng.uniform(0.0, 2 * np.pi, size=(_ORBS, 2))
        self._orb_radius = rng.uniform(0.08, 0.2, size=_ORBS)
        self._palette = _palette(rng)

    def frame_at(self, seconds: float) -> Frame:
        """The RGBX frame `seconds` into the video."""
        waves = self._waves(seconds)  # in [-1, 1]
        glow = np.clip(self._glow(seconds) * 90.0, 0.0, 255.0).astype(np.uint8)
        index = np.clip((waves + 1.0) * 127.5, 0.0, 255.0).astype(np.uint8)
        colour = cv2.LUT(cv2.merge([index, index, index]), self._palette)
        colour = cv2.add(colour, cv2.merge([glow, glow, glow]))
        small = cv2.cvtColor(colour, cv2.COLOR_RGB2RGBA)
        return cv2.resize(small, self._size, interpolation=cv2.INTER_LINEAR)

    def _waves(self, seconds: float) -> npt.NDArray[np.float64]:
        along_x = self._wave_k[:, 0] * self._x[:, None] + (
            self._wave_speed * seconds + self._wave_phase
        )
        along_y = self._wave_k[:, 1] * self._y[:, None]
        rows = np.hstack([np.sin(along_y), np.cos(along_y)])
        cols = np.hstack([np.cos(along_x), np.sin(along_x)])
        field: npt.NDArray[np.float64] = (rows @ cols.T) / _WAVES
        return field

    def _glow(self, seconds: float) -> npt.NDArray[np.float64]:
        centre = self._orb_base + self._orb_swing * np.sin(
            self._orb_rate * seconds + self._orb_phase
        )
        spread = 2.0 * self._orb_radius**2
        rows = np.exp(-((self._y[:, None] - centre[:, 1]) ** 2) / spread)
        cols = np.exp(-((self._x[:, None] - centre[:, 0]) ** 2) / spread)
        return rows @ cols.T


def _palette(rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """A (1, 256, 3) uint8 RGB ramp through four seeded, related hues, for cv2.LUT."""
    hue = rng.uniform(0.0, 1.0)
    spread = rng.uniform(0.08, 0.35)
    stops = [
        colorsys.hsv_to_rgb((hue + spread * i) % 1.0, rng.uniform(0.45, 0.9), value)
        for i, value in enumerate((0.18, 0.55, 0.85, 0.45))
    ]
    at = np.linspace(0.0, 1.0, len(stops))
    ramp = np.linspace(0.0, 1.0, 256)
    channels = [np.interp(ramp, at, [stop[c] for stop in stops]) for c in range(3)]
    return (np.stack(channels, axis=1) * 255.0 + 0.5).astype(np.uint8)[None, :, :]
