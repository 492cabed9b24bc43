"""The reference-images timeline: a camera move over each image, joined by flow morphs.

Invariant: the reel yields exactly `frame_count` frames; each morph starts on the last view of
one move and ends just before the first view of the next, so the joins do not jump.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from vgen.media.camera_moves import CameraRig, pick_move
from vgen.media.easing import eased_positions, smoothstep
from vgen.media.flow_interpolation import FlowInterpolator
from vgen.media.frame import Frame
from vgen.media.keyframes import render_sequence

MORPH_SHARE = 0.3  # of the timeline spent morphing between images


def reel_frames(
    stills: Sequence[Frame],
    *,
    width: int,
    height: int,
    frame_count: int,
    rng: random.Random,
) -> Iterator[Frame]:
    """Frames over `stills` (RGBX, each OVERSCAN x the output size), in order."""
    rigs = [
        CameraRig(still, pick_move(rng, from_full_frame=False), width=width, height=height)
        for still in stills
    ]
    holds, morph = _split_timeline(len(rigs), frame_count)
    previous: CameraRig | None = None
    for rig, hold in zip(rigs, holds, strict=True):
        if hold == 0:
            continue
        if previous is not None and morph:
            yield from _morph(previous.frame_at(1.0), rig.frame_at(0.0), morph)
        yield from render_sequence(rig, eased_positions(hold))
        previous = rig


def _split_timeline(images: int, frame_count: int) -> tuple[list[int], int]:
    """Frames per camera move (one per image), and frames per morph between two moves."""
    if images < 1:
        raise ValueError("a reel needs at least one image")
    joins = images - 1
    morph = 0
    if joins:
        # Every move keeps at least one frame; with fewer frames than images, nothing morphs.
        morph = min(round(frame_count * MORPH_SHARE / joins), (frame_count - images) // joins)
        morph = max(0, morph)
    base, extra = divmod(frame_count - morph * joins, images)
    return [base + (1 if i < extra else 0) for i in range(images)], morph


def _morph(first: Frame, last: Frame, frames: int) -> Iterator[Frame]:
    # Endpoints excluded: they are the neighbouring moves' own frames.
    positions = [smoothstep((i + 1) / (frames + 1)) for i in range(frames)]
    yield from render_sequence(FlowInterpolator(first, last), positions)
