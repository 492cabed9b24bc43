"""A caption: text wrapped to the frame, drawn once with Pillow, laid over every frame.

Invariant: the caption occupies a fixed band near the bottom; frames are changed only inside
that band, and identically for every frame.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vgen.media.frame import Frame

MAX_LINES = 3
_TEXT_WIDTH_SHARE = 0.86  # of the frame width; keeps text clear of 9:16 phone UI edges
_BOX_RGBA = (0, 0, 0, 150)


class Caption:
    def __init__(self, text: str, *, width: int, height: int) -> None:
        font_px = max(12, round(min(width, height) * 0.045))
        font = ImageFont.load_default(size=font_px)
        lines = _wrap(" ".join(text.split()), font, width * _TEXT_WIDTH_SHARE)
        band = _draw_band(lines, font, width=width, line_px=round(font_px * 1.3))
        rgba = np.asarray(band)
        self._alpha = rgba[:, :, 3].astype(np.float32) / 255.0
        self._under_weight = 1.0 - self._alpha
        self._rgbx = rgba.copy()
        self._rgbx[:, :, 3] = 255
        self._top = height - band.height - round(height * 0.05)

    def apply(self, frame: Frame) -> Frame:
        """Draw the caption onto `frame` (RGBX) in place and return it."""
        if self._alpha.shape[0] == 0:
            return frame
        rows = slice(self._top, self._top + self._alpha.shape[0])
        frame[rows] = cv2.blendLinear(frame[rows], self._rgbx, self._under_weight, self._alpha)
        return frame


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_px: float
) -> list[str]:
    """Greedy word wrap to `max_px`; overlong words are split; extra lines become '...'."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) <= max_px:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.getlength(word) > max_px:
            cut = _fitting_prefix(word, font, max_px)
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > MAX_LINES:
        last = lines[MAX_LINES - 1]
        while last and font.getlength(last + "...") > max_px:
            last = last[:-1]
        lines = [*lines[: MAX_LINES - 1], last.rstrip() + "..."]
    return lines


def _fitting_prefix(
    word: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_px: float
) -> int:
    cut = len(word)
    while cut > 1 and font.getlength(word[:cut]) > max_px:
        cut -= 1
    return cut


def _draw_band(
    lines: list[str],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    *,
    width: int,
    line_px: int,
) -> Image.Image:
    if not lines:
        return Image.new("RGBA", (width, 0))
    pad = line_px // 2
    band = Image.new("RGBA", (width, line_px * len(lines) + 2 * pad), (0, 0, 0, 0))
    text_w = max(font.getlength(line) for line in lines)
    box_left = round((width - text_w) / 2) - pad
    box = ImageDraw.Draw(band)
    box.rounded_rectangle(
        (box_left, 0, width - box_left, band.height - 1), radius=pad, fill=_BOX_RGBA
    )
    text = Image.new("RGBA", band.size, (0, 0, 0, 0))
    pen = ImageDraw.Draw(text)
    for i, line in enumerate(lines):
        pen.text(
            (width / 2, pad + i * line_px), line, font=font, fill=(255, 255, 255, 255), anchor="ma"
        )
    return Image.alpha_composite(band, text)
