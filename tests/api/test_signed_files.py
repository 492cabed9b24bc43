"""API.md §1.2: video_url is an HMAC-signed, expiring URL served by vgen; tampered or expired
URLs are refused with 403; Range requests get 206."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.support import HandClock, LiveServer
from vgen.config import Settings


def completed_task(server: LiveServer) -> dict[str, object]:
    with server.client() as client:
        task_id = client.post(
            "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "sea"}
        ).json()["id"]
        done = poll_until_done(client, task_id)[-1]
    assert done["status"] == "completed", done
    return done


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_signed_url_serves_ranges_and_refuses_tampering(server: LiveServer) -> None:
    done = completed_task(server)
    url = str(done["video_url"])
    full = httpx.get(url, timeout=30)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    size = len(full.content)

    partial = httpx.get(url, headers={"Range": "bytes=100-1099"}, timeout=30)
    assert partial.status_code == 206
    assert partial.content == full.content[100:1100]
    assert partial.headers["content-range"] == f"bytes 100-1099/{size}"
    tail = httpx.get(url, headers={"Range": "bytes=-500"}, timeout=30)
    assert tail.status_code == 206 and tail.content == full.content[-500:]

    sig = parse_qs(urlsplit(url).query)["sig"][0]
    exp = parse_qs(urlsplit(url).query)["exp"][0]
    flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
    other_id = "vgen_" + "f" * 24
    for bad in [
        with_query(url, sig=flipped),
        with_query(url, exp=str(int(exp) + 3600)),
        with_query(url, exp="abc"),
        url.split("?")[0],
        url.replace(str(done["id"]), other_id),
    ]:
        response = httpx.get(bad, timeout=30)
        assert response.status_code == 403, bad
        assert response.json()["error"]["type"] == "permission_error"


def test_each_query_mints_a_fresh_url_capped_by_retention(
    settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    clock = HandClock()
    server = make_server(settings, clock=clock)
    done = completed_task(server)
    assert int(done["expires_at"]) <= clock() + server.settings.signed_url_ttl_seconds + 1
    clock.now += 1.1
    with server.client() as client:
        again = client.get(f"/v1/result/{done['id']}").json()
    assert again["video_url"] != done["video_url"]
    assert again["expires_at"] > done["expires_at"]
    assert httpx.get(again["video_url"], timeout=30).status_code == 200


def test_expired_url_is_refused(settings: Settings, make_server: Callable[..., LiveServer]) -> None:
    clock = HandClock()
    server = make_server(settings.model_copy(update={"signed_url_ttl_seconds": 1}), clock=clock)
    done = completed_task(server)
    clock.now += 2.1
    assert httpx.get(str(done["video_url"]), timeout=30).status_code == 403


@pytest.mark.parametrize("retention_s", [1])
def test_url_never_outlives_retention(
    settings: Settings, make_server: Callable[..., LiveServer], retention_s: int
) -> None:
    server = make_server(settings.model_copy(update={"retention_seconds": retention_s}))
    done = completed_task(server)
    assert int(done["expires_at"]) <= int(done["completed_at"]) + retention_s
