"""The picture type the media modules pass around: an (H, W, 4) uint8 RGBX array.

Invariant: channels are R, G, B and a padding channel (kept at 255, never read as alpha),
because OpenCV warps 4-channel images about twice as fast as 3-channel ones.
"""

from __future__ import annotations

from typing import TypeAlias

import cv2

# OpenCV's own array type, so frames flow in and out of cv2 calls without casts.
Frame: TypeAlias = cv2.typing.MatLike
