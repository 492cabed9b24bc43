"""Real test images made with Pillow (PNG/JPEG bytes and data: URLs)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def scene_image(width: int = 640, height: int = 360, *, shift: int = 0, fmt: str = "PNG") -> bytes:
    """A textured scene with a bright square at x = 100 + shift; easy to recognise in frames."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack(
        [(x * 255 // width), (y * 255 // height), ((x + y) * 3 % 256)], axis=-1
    ).astype(np.uint8)
    pixels[height // 3 : height // 3 + 80, 100 + shift : 180 + shift] = (255, 255, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
