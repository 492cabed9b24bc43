"""The local renderer, end to end: real input files in, a real MP4 out, decoded back with PyAV."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from vgen.domain.errors import EngineError
from vgen.media.probe import probe_video
from vgen.media.renderer import RenderJob, RenderStats, render_video

SQUARE = 80  # side of the white square the first/last scenes move
SHIFT = 60  # how far it moves: well inside what DIS flow follows at 720p


def texture(seed: int, width: int, height: int) -> np.ndarray:
    """Smooth, photo-like RGB noise: enough detail for optical flow to lock on to."""
    rng = np.random.default_rng(seed)
    layers = [
        cv2.resize(
            rng.random((max(2, height // cell), max(2, width // cell), 3)),
            (width, height),
            interpolation=cv2.INTER_CUBIC,
        )
        * weight
        for cell, weight in ((64, 1.0), (16, 0.5), (4, 0.2))
    ]
    total = sum(layers)
    total = (total - total.min()) / (total.max() - total.min())
    return (total * 255).astype(np.uint8)


def square_scene(left: int, width: int = 1280, height: int = 720) -> np.ndarray:
    """A textured backdrop with a white square whose left edge is at `left`."""
    image = texture(1, width, height)
    top = (height - SQUARE) // 2
    image[top : top + SQUARE, left : left + SQUARE] = 255
    return image


def save(path: Path, rgb: np.ndarray) -> str:
    Image.fromarray(rgb).save(path)
    return str(path)


def decoded_frames(path: str, wanted: set[int]) -> dict[int, np.ndarray]:
    with av.open(path) as container:
        return {
            i: frame.to_ndarray(format="rgb24")
            for i, frame in enumerate(container.decode(video=0))
            if i in wanted
        }


def all_frames(path: str) -> list[np.ndarray]:
    with av.open(path) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-12))


def white_columns(frame: np.ndarray) -> np.ndarray:
    """x of the columns that are near-white all through the square's rows."""
    top = (frame.shape[0] - SQUARE) // 2
    band = frame[top + 10 : top + SQUARE - 10].min(axis=2) > 225
    return np.flatnonzero(band.all(axis=0))


@pytest.fixture(scope="module")
def first_last_8s(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderJob, RenderStats]:
    """The one full-length render: 8 s of 720p between two stills."""
    folder = tmp_path_factory.mktemp("first_last_8s")
    job = RenderJob(
        output_path=str(folder / "out.mp4"),
        width=1280,
        height=720,
        prompt="a square slides right",
        first_frame=save(folder / "first.png", square_scene(400)),
        last_frame=save(folder / "last.jpg", square_scene(400 + SHIFT)),
    )
    return job, render_video(job)


def test_eight_second_job_is_exactly_192_h264_frames_at_24_fps(
    first_last_8s: tuple[RenderJob, RenderStats],
) -> None:
    job, stats = first_last_8s
    info = probe_video(job.output_path)
    assert stats == RenderStats(frames=192, width=1280, height=720, fps=24, mode="first_last")
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height, info.fps) == (1280, 720, 24.0)
    assert info.frames == 192
    assert info.duration_s == pytest.approx(8.0, abs=1e-6)


def test_first_last_video_opens_on_first_image_and_ends_on_last(
    first_last_8s: tuple[RenderJob, RenderStats],
) -> None:
    job, _ = first_last_8s
    frames = decoded_frames(job.output_path, {0, 191})
    assert psnr(frames[0], square_scene(400)) > 35
    assert psnr(frames[191], square_scene(400 + SHIFT)) > 32  # the last input went through JPEG


def test_first_last_middle_frame_moves_the_square_instead_of_crossfading(
    first_last_8s: tuple[RenderJob, RenderStats],
) -> None:
    job, _ = first_last_8s
    middle = decoded_frames(job.output_path, {96})[96]  # eased time ~0.5
    columns = white_columns(middle)
    # A cross-fade would leave two half-bright squares, solid white only where they overlap
    # (20 columns); here one whole square sits halfway.
    assert SQUARE * 3 // 4 <= len(columns) <= SQUARE + 2
    assert columns.mean() == pytest.approx(400 + SQUARE / 2 + SHIFT / 2, abs=3)


@pytest.mark.parametrize(
    ("inputs", "mode"),
    [
        ({"first_frame": "a", "last_frame": "b"}, "first_last"),
        ({"first_frame": "a"}, "first_only"),
        ({"references": ("a", "b", "c")}, "references"),
        ({}, "text_only"),
    ],
)
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280)])
def test_every_mode_renders_the_requested_size_and_length(
    tmp_path: Path, inputs: dict[str, object], mode: str, width: int, height: int
) -> None:
    images = {
        name: save(tmp_path / f"{name}.png", texture(seed, 400, 300))
        for seed, name in enumerate("abc")
    }
    resolved = {
        key: tuple(images[n] for n in value) if isinstance(value, tuple) else images[str(value)]
        for key, value in inputs.items()
    }
    job = RenderJob(
        output_path=str(tmp_path / "out.mp4"),
        width=width,
        height=height,
        prompt="a calm sea",
        duration_s=1,
        **resolved,  # type: ignore[arg-type]
    )
    stats = render_video(job)
    info = probe_video(job.output_path)
    assert stats == RenderStats(frames=24, width=width, height=height, fps=24, mode=mode)
    assert (info.codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", width, height)
    assert (info.frames, info.fps, info.duration_s) == (24, 24.0, pytest.approx(1.0))


def test_first_frame_is_cover_fitted_not_stretched(tmp_path: Path) -> None:
    portrait = texture(5, 300, 600)
    job = RenderJob(
        output_path=str(tmp_path / "out.mp4"),
        width=1280,
        height=720,
        prompt="",
        duration_s=1,
        first_frame=save(tmp_path / "tall.png", portrait),
    )
    render_video(job)
    # Cover: scale the 300-wide image to 1280 wide, keep the middle 720 rows.
    scaled = cv2.resize(portrait, (1280, 2560), interpolation=cv2.INTER_CUBIC)
    expected = scaled[920:1640]
    assert psnr(decoded_frames(job.output_path, {0})[0], expected) > 28


@pytest.mark.parametrize("extension", ["jpg", "png", "webp", "gif", "bmp"])
def test_each_accepted_image_format_opens_the_video(tmp_path: Path, extension: str) -> None:
    picture = texture(6, 320, 180)
    job = RenderJob(
        output_path=str(tmp_path / "out.mp4"),
        width=320,
        height=180,
        prompt="",
        duration_s=1,
        first_frame=save(tmp_path / f"in.{extension}", picture),
    )
    render_video(job)
    assert psnr(decoded_frames(job.output_path, {0})[0], picture) > 24  # GIF: 256 colours


def test_progress_reaches_total_in_order_at_least_every_12_frames(tmp_path: Path) -> None:
    reports: list[tuple[int, int]] = []
    job = RenderJob(
        output_path=str(tmp_path / "out.mp4"), width=640, height=360, prompt="x", duration_s=2
    )
    render_video(job, on_progress=lambda done, total: reports.append((done, total)))
    done = [d for d, _ in reports]
    assert {total for _, total in reports} == {48}
    assert done == sorted(done) and done[-1] == 48
    assert max(b - a for a, b in zip([0, *done], done, strict=False)) <= 12


def test_failing_progress_callback_aborts_render_stops_producer_and_removes_file(
    tmp_path: Path,
) -> None:
    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled

    out = tmp_path / "out.mp4"
    threads_before = threading.active_count()
    job = RenderJob(output_path=str(out), width=640, height=360, prompt="x", duration_s=2)
    with pytest.raises(Cancelled):
        render_video(job, on_progress=cancel)
    assert not out.exists()
    assert threading.active_count() == threads_before


def test_text_only_is_deterministic_per_prompt(tmp_path: Path) -> None:
    def render(name: str, prompt: str) -> list[np.ndarray]:
        job = RenderJob(
            output_path=str(tmp_path / name), width=640, height=360, prompt=prompt, duration_s=1
        )
        render_video(job)
        return all_frames(job.output_path)

    fox, fox_again = render("a.mp4", "a red fox"), render("b.mp4", "a red fox")
    owl = render("c.mp4", "an owl at night")
    assert all(np.array_equal(a, b) for a, b in zip(fox, fox_again, strict=True))
    assert np.mean([psnr(a, b) for a, b in zip(fox, owl, strict=True)]) < 25


def test_same_references_and_seed_render_identical_video(tmp_path: Path) -> None:
    refs = tuple(save(tmp_path / f"r{i}.png", texture(10 + i, 320, 240)) for i in range(2))

    def render(name: str) -> list[np.ndarray]:
        job = RenderJob(
            output_path=str(tmp_path / name),
            width=640,
            height=360,
            prompt="p",
            duration_s=1,
            seed=7,
            references=refs,
        )
        render_video(job)
        return all_frames(job.output_path)

    assert all(np.array_equal(a, b) for a, b in zip(render("a.mp4"), render("b.mp4"), strict=True))


def test_unreadable_input_image_is_an_engine_error_and_leaves_no_file(tmp_path: Path) -> None:
    bogus = tmp_path / "not-an-image.png"
    bogus.write_bytes(b"definitely not a png")
    out = tmp_path / "out.mp4"
    job = RenderJob(
        output_path=str(out),
        width=640,
        height=360,
        prompt="x",
        duration_s=1,
        first_frame=str(bogus),
    )
    with pytest.raises(EngineError, match="could not be read"):
        render_video(job)
    assert not out.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"last_frame": "b.png"}, "last_frame needs first_frame"),
        ({"first_frame": "a.png", "references": ("r.png",)}, "references exclude"),
        ({"references": ("1", "2", "3", "4")}, "at most 3"),
        ({"width": 641}, "even"),
    ],
)
def test_contradictory_jobs_are_refused(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "output_path": "o.mp4",
        "width": 640,
        "height": 360,
        "prompt": "x",
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        RenderJob(**fields)  # type: ignore[arg-type]
