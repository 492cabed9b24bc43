"""probe_video decodes what is really in a file and turns any decoding failure into EngineError."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vgen.domain.errors import EngineError
from vgen.media.encoder import Mp4Writer
from vgen.media.probe import VideoInfo, probe_video


def test_probe_counts_decoded_frames_of_an_mp4(tmp_path: Path) -> None:
    path = str(tmp_path / "clip.mp4")
    with Mp4Writer(path, width=320, height=180, fps=24) as mp4:
        for i in range(36):
            frame = np.zeros((180, 320, 3), np.uint8)
            frame[:, i * 8 : i * 8 + 16] = 255
            mp4.write(frame)
    assert probe_video(path) == VideoInfo(
        codec="h264",
        width=320,
        height=180,
        fps=24.0,
        frames=36,
        duration_s=1.5,
        pix_fmt="yuv420p",
    )


@pytest.mark.parametrize(
    "content", [b"", b"hello" * 200, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64]
)
def test_garbage_file_is_an_engine_error_caused_by_the_decoder(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(content)
    with pytest.raises(EngineError, match="not a decodable video") as caught:
        probe_video(str(path))
    assert isinstance(caught.value.__cause__, av.FFmpegError)


def test_missing_file_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError):
        probe_video(str(tmp_path / "nope.mp4"))
