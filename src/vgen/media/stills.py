"""Input stills, decoded and cover-fitted to a frame: scaled to fill, then centre-cropped.

Invariant: the result is a Frame of exactly the requested size that keeps the image's own aspect
ratio (nothing is stretched).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageOps

from vgen.domain.errors import EngineError
from vgen.media.frame import Frame


def load_still(path: str, width: int, height: int) -> Frame:
    """Read an image file (jpeg/png/webp/gif/bmp; a GIF's first frame) and cover-fit it.

    Raises:
        EngineError: the file is missing or is not an image Pillow can decode.
    """
    try:
        with Image.open(path) as image:
            # JPEG can decode straight at a reduced scale that still covers the target.
            image.draft("RGB", (width, height))
            fitted = _cover(_opaque_rgb(ImageOps.exif_transpose(image)), width, height)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise EngineError(f"input image {path} could not be read: {exc}") from exc
    return cv2.cvtColor(np.asarray(fitted), cv2.COLOR_RGB2RGBA)


def _opaque_rgb(image: Image.Image) -> Image.Image:
    if not image.has_transparency_data:
        return image.convert("RGB")
    # A transparent pixel is shown as it would look over black, not as its hidden colour.
    rgba = image.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, rgba).convert("RGB")


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    scale = max(width / image.width, height / image.height)
    crop_w, crop_h = width / scale, height / scale
    left, top = (image.width - crop_w) / 2, (image.height - crop_h) / 2
    return image.resize(
        (width, height),
        Image.Resampling.BICUBIC,
        box=(left, top, left + crop_w, top + crop_h),
        reducing_gap=2.0,
    )
