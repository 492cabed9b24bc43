"""API.md §1.1–1.3 end to end on the embedded default: create → queued → processing (real
progress) → completed, then download the signed video_url and decode it."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import wait_for
from tests.images import data_url, scene_image
from tests.support import LiveServer
from tests.video import decode_mp4


def poll_until_done(
    client: httpx.Client, task_id: str, *, timeout_s: float = 120
) -> list[dict[str, Any]]:
    """Every distinct response body seen until the task is terminal."""
    seen: list[dict[str, Any]] = []

    def is_done() -> bool:
        response = client.get(f"/v1/result/{task_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if not seen or body != seen[-1]:
            seen.append(body)
        if body["status"] in ("completed", "failed"):
            return True
        assert response.headers["Retry-After"].isdigit()
        assert int(response.headers["openai-poll-after-ms"]) > 0
        return False

    wait_for(is_done, timeout_s=timeout_s, message=f"task {task_id} to finish")
    return seen


def test_text_only_task_goes_queued_processing_completed(server: LiveServer) -> None:
    with server.client() as client:
        created = client.post(
            "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "a lighthouse at dusk"}
        )
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["status"] == "queued"
        assert body["id"] == body["task_id"] and body["id"].startswith("vgen_")
        assert len(body["id"]) == 29 and body["object"] == "video"
        assert body["model"] == "veo_3_1_fast" and isinstance(body["created"], int)

        seen = poll_until_done(client, body["id"])
        states = [s["status"] for s in seen]
        assert states[-1] == "completed", seen[-1]
        assert "processing" in states
        progresses = [s["progress"] for s in seen if s["status"] == "processing"]
        assert progresses == sorted(progresses)
        assert any(0 < p < 100 for p in progresses), progresses

        done = seen[-1]
        assert done["actualDuration"] == 8 and done["error"] is None and done["progress"] == 100
        assert isinstance(done["completed_at"], int) and isinstance(done["expires_at"], int)
        assert done["expires_at"] > time.time()
        assert done["video_url"].startswith(server.url + "/v1/files/")

        # The video_url needs no API key: the signature is the permission.
        video = httpx.get(done["video_url"], timeout=30)
        assert video.status_code == 200
        assert video.headers["content-type"] == "video/mp4"
        decoded = decode_mp4(video.content)
        assert (decoded.codec, decoded.width, decoded.height) == ("h264", 1280, 720)
        assert decoded.fps == 24 and decoded.frames == 192
        assert decoded.duration_s == pytest.approx(8.0, abs=0.05)


@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [("720P", "9:16", (720, 1280)), ("1080p", "16:9", (1920, 1080))],
)
def test_requested_size_is_rendered(
    server: LiveServer, resolution: str, aspect: str, size: tuple[int, int]
) -> None:
    with server.client() as client:
        task_id = client.post(
            "/v1/veo/videos",
            json={
                "model": "veo_3_1_pro",
                "prompt": "waves",
                "resolution": resolution,
                "aspect_ratio": aspect,
            },
        ).json()["id"]
        done = poll_until_done(client, task_id)[-1]
    assert done["status"] == "completed", done
    decoded = decode_mp4(httpx.get(done["video_url"], timeout=30).content)
    assert (decoded.width, decoded.height) == size
    assert decoded.frames == 192


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_first_and_last_frame_mode_starts_and_ends_on_the_images(server: LiveServer) -> None:
    first, last = scene_image(1280, 720, shift=0), scene_image(1280, 720, shift=300)
    with server.client() as client:
        task_id = client.post(
            "/v1/veo/videos",
            json={
                "model": "veo_3_1_fast_stable",
                "prompt": "the square slides",
                "first_image": data_url(first),
                "last_image": data_url(last),
            },
        ).json()["id"]
        done = poll_until_done(client, task_id)[-1]
    assert done["status"] == "completed", done
    decoded = decode_mp4(httpx.get(done["video_url"], timeout=30).content)
    first_px = np.asarray(Image.open(io.BytesIO(first)).convert("RGB"))
    last_px = np.asarray(Image.open(io.BytesIO(last)).convert("RGB"))
    assert _mean_abs_diff(decoded.first, first_px) < _mean_abs_diff(decoded.first, last_px)
    assert _mean_abs_diff(decoded.last, last_px) < _mean_abs_diff(decoded.last, first_px)
    assert _mean_abs_diff(decoded.first, first_px) < 8


@pytest.mark.parametrize(
    "images",
    [
        pytest.param({"first_image": "upload"}, id="first-only-via-upload"),
        pytest.param({"input_reference": ["upload", "data"]}, id="references"),
        pytest.param({"image_urls": ["http"]}, id="references-by-http-url"),
    ],
)
def test_image_modes_complete_with_every_kind_of_reference(
    server: LiveServer, make_image_server: str, images: dict[str, Any]
) -> None:
    with server.client() as client:
        uploaded = client.post(
            "/v1/files", files={"file": ("scene.png", scene_image(), "image/png")}
        )
        assert uploaded.status_code == 200, uploaded.text
        asset = uploaded.json()["url"]
        assert asset.startswith("asset://file_")
        kinds = {
            "upload": asset,
            "data": data_url(scene_image(shift=50)),
            "http": f"{make_image_server}/scene.png",
        }

        def resolve(value: Any) -> Any:
            return [kinds[v] for v in value] if isinstance(value, list) else kinds[value]

        body = {
            "model": "veo_3_1_fast",
            "prompt": "slow pan",
            **{k: resolve(v) for k, v in images.items()},
        }
        created = client.post("/v1/veo/videos", json=body)
        assert created.status_code == 200, created.text
        done = poll_until_done(client, created.json()["id"])[-1]
    assert done["status"] == "completed", done
    assert decode_mp4(httpx.get(done["video_url"], timeout=30).content).frames == 192


def test_list_is_newest_first_and_cursor_paged(server: LiveServer) -> None:
    with server.client() as client:
        ids = [
            client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": f"p{i}"}).json()[
                "id"
            ]
            for i in range(5)
        ]
        page1 = client.get("/v1/veo/videos", params={"limit": 2}).json()
        assert page1["object"] == "list" and page1["has_more"] is True
        assert [t["id"] for t in page1["data"]] == ids[::-1][:2]
        page2 = client.get("/v1/veo/videos", params={"limit": 2, "after": page1["last_id"]}).json()
        assert [t["id"] for t in page2["data"]] == ids[::-1][2:4]
        page3 = client.get("/v1/veo/videos", params={"limit": 2, "after": page2["last_id"]}).json()
        assert [t["id"] for t in page3["data"]] == ids[:1] and page3["has_more"] is False


def test_reseller_prefix_and_aliases_serve_the_same_task(server: LiveServer) -> None:
    with server.client() as client:
        created = client.post(
            "/kyyReactApiServer/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "x"}
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]
        alias = client.post("/veo/videos", json={"model": "veo_3_1_fast", "prompt": "y"})
        assert alias.status_code == 200
        for path in ["/v1/result/", "/v1/veo/videos/", "/result/", "/kyyReactApiServer/v1/result/"]:
            response = client.get(path + task_id)
            assert response.status_code == 200 and response.json()["id"] == task_id
        wait_for(
            lambda: client.get(f"/v1/result/{task_id}").json()["status"] == "completed",
            timeout_s=120,
            message="task completion",
        )
