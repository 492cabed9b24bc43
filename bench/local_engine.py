"""Benchmark of the offline `local` renderer (ENGINES.md §4): speed and interpolation quality.

Run: .venv/bin/python bench/local_engine.py [--runs N] [--skip-ffmpeg]

Prints, for 8 s first/last-frame jobs at 720p and 1080p, render-seconds / video-seconds (wall
clock, best of N runs, render + encode); the PSNR of the interpolated middle frame (before
encoding) against the true middle frame of a synthetic moving scene, beside a plain
cross-fade's; and, when imageio-ffmpeg is installed, ffmpeg's motion-compensated
`minterpolate` on the same 720p job (same x264 settings), as a speed ratio.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vgen.media.encoder import DEFAULT_CRF, DEFAULT_PRESET
from vgen.media.flow_interpolation import FlowInterpolator
from vgen.media.renderer import RenderJob, render_video

VIDEO_S = 8
FPS = 24
_BASE_W = 1280  # the scene is laid out on a 1280-wide canvas and scaled to the output


@dataclass(frozen=True)
class Thing:
    """A textured rectangle that translates and rotates linearly in time (720p units)."""

    centre: tuple[float, float]
    size: tuple[int, int]
    travel: tuple[float, float]
    turn_deg: float


THINGS = (
    Thing((300, 250), (260, 180), (40, 16), 8),
    Thing((900, 450), (220, 220), (-36, -20), -6),
    Thing((620, 560), (180, 120), (24, -30), 10),
)
PAN = (24.0, 10.0)  # background (camera) travel over the clip, 720p pixels


def texture(
    rng: np.random.Generator, height: int, width: int, cells: tuple[int, ...]
) -> np.ndarray:
    """Multi-scale smooth colour noise, contrast-stretched to 0..255."""
    total = np.zeros((height, width, 3), np.float32)
    for cell, weight in zip(cells, (0.35, 0.6, 1.0), strict=True):
        small = rng.random((max(2, height // cell), max(2, width // cell), 3), dtype=np.float32)
        total += weight * cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    total = (total - total.min()) / (total.max() - total.min())
    return (total * 255).astype(np.uint8)


def shapes_patch(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Flat-coloured rectangles and discs: hard edges, unlike the noise textures."""
    patch = np.empty((height, width, 3), np.uint8)
    patch[:] = rng.integers(0, 255, 3)
    for _ in range(40):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(8, 60)), int(rng.integers(8, 60))
        cv2.rectangle(patch, (x, y), (x + w, y + h), rng.integers(0, 255, 3).tolist(), -1)
    for _ in range(25):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(patch, centre, int(rng.integers(4, 30)), rng.integers(0, 255, 3).tolist(), -1)
    return patch


def moving_scene(t: float, width: int, height: int, *, with_things: bool = True) -> np.ndarray:
    """The scene at time t in [0, 1]: a panning textured backdrop and three moving objects."""
    k = width / _BASE_W
    rng = np.random.default_rng(7)
    pad = round(64 * k)
    backdrop = texture(rng, height + 2 * pad, width + 2 * pad, (8, 32, 128))
    shift = np.float32([[1, 0, -pad + PAN[0] * k * t], [0, 1, -pad + PAN[1] * k * t]])
    frame = cv2.warpAffine(backdrop, shift, (width, height), flags=cv2.INTER_LINEAR)
    for i, thing in enumerate(THINGS):
        w, h = round(thing.size[0] * k), round(thing.size[1] * k)
        patch = shapes_patch(rng, h, w) if i == 1 else texture(rng, h, w, (4, 16, 48))
        if not with_things:
            continue
        pose = cv2.getRotationMatrix2D((w / 2, h / 2), thing.turn_deg * t, 1.0)
        pose[0, 2] += (thing.centre[0] + thing.travel[0] * t) * k - w / 2
        pose[1, 2] += (thing.centre[1] + thing.travel[1] * t) * k - h / 2
        layer = cv2.warpAffine(patch, pose, (width, height), flags=cv2.INTER_LINEAR)
        cover = cv2.warpAffine(np.full((h, w), 1.0, np.float32), pose, (width, height))
        cover = cover[:, :, None]
        frame = (frame * (1 - cover) + layer * cover + 0.5).astype(np.uint8)
    return frame


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a[..., :3].astype(np.float64) - b[..., :3].astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse)


def rgbx(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)


def time_render(folder: Path, width: int, height: int, runs: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of `runs` renders of the 8 s first/last job."""
    first, last = folder / f"first_{width}.png", folder / f"last_{width}.png"
    Image.fromarray(moving_scene(0.0, width, height)).save(first)
    Image.fromarray(moving_scene(1.0, width, height)).save(last)
    job = RenderJob(
        output_path=str(folder / f"ours_{width}.mp4"),
        width=width,
        height=height,
        prompt="bench",
        duration_s=VIDEO_S,
        fps=FPS,
        first_frame=str(first),
        last_frame=str(last),
    )
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        render_video(job)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def middle_frame_psnr(*, with_things: bool) -> tuple[float, float]:
    """(ours, cross-fade) PSNR in dB of the t=0.5 frame of the 720p scene."""
    first, middle, last = (moving_scene(t, 1280, 720, with_things=with_things) for t in (0, 0.5, 1))
    ours = FlowInterpolator(rgbx(first), rgbx(last)).frame_at(0.5)
    return psnr(ours, middle), psnr(cv2.addWeighted(first, 0.5, last, 0.5, 0.0), middle)


def ffmpeg_minterpolate(ffmpeg: str, folder: Path) -> tuple[float, float]:
    """Wall seconds of ffmpeg's minterpolate on the 720p job, and its middle frame's PSNR.

    The stills become a 1/8 fps clip (the last one repeated: minterpolate emits nothing for a
    two-frame clip) interpolated to 24 fps, so output frame 96 is exactly t = 0.5.
    """
    stills = folder / "ffmpeg_in"
    stills.mkdir(exist_ok=True)
    for i, name in enumerate(("first", "last", "last", "last")):
        shutil.copy(folder / f"{name}_1280.png", stills / f"{i}.png")
    graph = (
        "[0:v]minterpolate=fps=24:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1,split[a][b];"
        "[a]format=yuv420p[enc];[b]select='eq(n\\,96)',format=rgb24[mid]"
    )
    middle_raw = folder / "ffmpeg_middle.rgb"
    source = [
        "-y",
        "-loglevel",
        "error",
        "-framerate",
        f"1/{VIDEO_S}",
        "-i",
        str(stills / "%d.png"),
    ]
    x264 = ["-c:v", "libx264", "-preset", DEFAULT_PRESET, "-crf", str(DEFAULT_CRF)]
    video = ["-map", "[enc]", *x264, "-frames:v", str(VIDEO_S * FPS), "-movflags", "+faststart"]
    middle = ["-map", "[mid]", "-frames:v", "1", "-f", "rawvideo", str(middle_raw)]
    command = [
        ffmpeg,
        *source,
        "-filter_complex",
        graph,
        *video,
        str(folder / "ffmpeg.mp4"),
        *middle,
    ]
    wall = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - wall
    frame = np.fromfile(middle_raw, np.uint8).reshape(720, 1280, 3)
    return wall, psnr(frame, moving_scene(0.5, 1280, 720))


def find_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="renders per size; best is kept")
    parser.add_argument("--skip-ffmpeg", action="store_true", help="skip minterpolate (~2 min)")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {VIDEO_S} s at "
        f"{FPS} fps; x264 preset {DEFAULT_PRESET}, crf {DEFAULT_CRF}; best of {args.runs} runs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours_720 = 0.0
        for width, height in ((1280, 720), (1920, 1080)):
            wall, cpu = time_render(folder, width, height, args.runs)
            ours_720 = ours_720 or wall
            print(
                f"local {height}p first/last: render/video = {wall / VIDEO_S:.3f}x real time "
                f"({wall:.2f} s wall, {cpu / VIDEO_S:.3f} CPU-s per video-s)"
            )
        for label, with_things in (("objects + pan", True), ("pan only", False)):
            ours, crossfade = middle_frame_psnr(with_things=with_things)
            print(
                f"middle-frame PSNR, {label}: interpolated {ours:.2f} dB, cross-fade "
                f"{crossfade:.2f} dB, gain {ours - crossfade:+.2f} dB"
            )
        ffmpeg = None if args.skip_ffmpeg else find_ffmpeg()
        if ffmpeg is None:
            print("ffmpeg minterpolate: skipped")
        else:
            wall, mid_psnr = ffmpeg_minterpolate(ffmpeg, folder)
            print(
                f"ffmpeg minterpolate (mci) 720p: render/video = {wall / VIDEO_S:.3f}x real "
                f"time; ours is {wall / ours_720:.1f}x faster; its middle-frame PSNR "
                f"{mid_psnr:.2f} dB (objects + pan)"
            )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
