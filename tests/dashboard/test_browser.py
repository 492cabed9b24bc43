"""The dashboard in a real browser (Debian's chromium) against a live `vgen serve` with the local
engine: the accessible names of API.md §8 are what the tests click and read."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.dashboard.conftest import Tab
from tests.images import scene_image
from tests.support import LiveServer
from vgen.config import Settings

FLOW_TIMEOUT_S = 120


def _created_id(tab: Tab) -> str:
    status = tab.page.locator("#create-status")
    status.filter(has_text=re.compile(r"Created vgen_")).wait_for()
    text = status.text_content() or ""
    return text.removeprefix("Created ").strip()


def _status_of(tab: Tab, task_id: str) -> str:
    return (tab.page.locator(f'li[data-id="{task_id}"] .status').text_content() or "").strip()


def _watch(tab: Tab, task_ids: list[str], *, until: str) -> dict[str, list[str]]:
    """The status words each task's row showed, in order, until all show `until`; the page is
    never reloaded, so every change came from the dashboard's own polling."""
    seen: dict[str, list[str]] = {task_id: [] for task_id in task_ids}
    deadline = time.monotonic() + FLOW_TIMEOUT_S
    while time.monotonic() < deadline:
        for task_id, words in seen.items():
            word = _status_of(tab, task_id)
            if word and (not words or words[-1] != word):
                words.append(word)
        if all(words and words[-1] == until for words in seen.values()):
            return seen
        tab.page.wait_for_timeout(50)
    raise AssertionError(f"tasks did not all reach {until}: {seen}")


def _create(tab: Tab, prompt: str, *, prepare: Callable[[], None] | None = None) -> str:
    page = tab.page
    page.get_by_label("Prompt").fill(prompt)
    if prepare:
        prepare()
    page.get_by_role("button", name="Generate").click()
    return _created_id(tab)


def test_wrong_key_is_refused_then_sign_in_and_out_by_keyboard(
    tab: Tab, server: LiveServer
) -> None:
    tab.open(server)
    page = tab.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.keyboard.type("vgen_not_a_key")
    page.keyboard.press("Enter")
    page.get_by_text("Incorrect API key provided.").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    page.get_by_label("API key").fill(server.admin_key)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Sign out").wait_for()
    assert page.get_by_label("Prompt").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert server.admin_key not in page.url
    assert page.context.cookies() == []
    tab.screenshot("mobile", full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").wait_for()
    assert page.evaluate("sessionStorage.length") == 0
    tab.assert_no_console_errors(expected_statuses=(401,))


def test_tasks_go_queued_processing_completed_and_the_video_plays(
    tab: Tab, settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    # The API alone first, so both tasks are surely seen `queued`; then a worker process on the
    # same database and archive (the scale-out shape) takes them.
    server = make_server(settings.model_copy(update={"run_worker": False}))
    tab.open(server)
    tab.sign_in(server.admin_key)
    page = tab.page

    # 1080p: a render of 3 s or more, longer than the dashboard's 2 s poll (Retry-After), so
    # the row surely shows `processing` once (a 720p render can finish between two polls).
    def full_hd() -> None:
        page.get_by_label("Resolution").select_option("1080p")

    text_id = _create(tab, "a lighthouse at dusk", prepare=full_hd)

    def frames() -> None:
        full_hd()
        page.get_by_label("Image mode").select_option(label="First / last frame")
        for label, shift in (("First frame (file)", 0), ("Last frame (file)", 200)):
            image = scene_image(shift=shift)
            page.get_by_label(label).set_input_files(
                {"name": f"{shift}.png", "mimeType": "image/png", "buffer": image}
            )

    frames_id = _create(tab, "the square slides right", prepare=frames)
    before = _watch(tab, [text_id, frames_id], until="queued")
    tab.screenshot("tasks")
    with ThreadPoolExecutor(1) as pool:  # outside Playwright's event loop (see `Tab`)
        pool.submit(make_server, settings).result()
    after = _watch(tab, [text_id, frames_id], until="completed")
    for task_id in (text_id, frames_id):
        words = before[task_id] + after[task_id]
        changes = [w for i, w in enumerate(words) if i == 0 or words[i - 1] != w]
        assert changes == ["queued", "processing", "completed"]

    page.locator(f'li[data-id="{frames_id}"] button').click()
    detail = page.locator("#detail")
    assert "asset://" not in (detail.text_content() or "")
    video = detail.locator("video")
    video.wait_for()
    page.wait_for_function("() => document.querySelector('#detail video').readyState >= 2")
    page.evaluate("document.querySelector('#detail video').play()")
    page.wait_for_function("() => document.querySelector('#detail video').currentTime > 0.2")
    page.evaluate("document.querySelector('#detail video').pause()")
    download = detail.get_by_role("link", name="Download")
    assert (download.get_attribute("href") or "").startswith("blob:")
    assert detail.get_by_role("img", name=re.compile("Thumbnail")).is_visible()
    assert detail.get_by_role("button", name="Delete").is_visible()
    assert not detail.get_by_role("button", name="Cancel").is_visible()
    detail.get_by_text("Raw JSON").click()
    page.get_by_label("Dialect").select_option("openai")
    page.locator("#raw").filter(has_text='"size": "1920x1080"').wait_for()
    tab.screenshot("detail", full_page=True)

    page.get_by_role("button", name="Usage").click()
    page.get_by_role("cell", name="veo_3_1_fast").first.wait_for()
    assert page.locator("#usage-chart svg rect").count() >= 1
    tab.screenshot("usage")
    tab.assert_no_console_errors()


def test_a_queued_task_is_cancelled_and_then_deleted(
    tab: Tab, settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(settings.model_copy(update={"run_worker": False}))  # stays queued
    tab.open(server)
    tab.sign_in(server.admin_key)
    task_id = _create(tab, "never rendered")
    page = tab.page
    assert _status_of(tab, task_id) == "queued"
    page.locator(f'li[data-id="{task_id}"] button').click()
    page.get_by_role("button", name="Cancel").click()
    _watch(tab, [task_id], until="cancelled")
    with server.client() as client:
        assert client.get(f"/v1/videos/{task_id}").json()["error"]["code"] == "cancelled"
    page.get_by_role("button", name="Delete").click()
    page.locator(f'li[data-id="{task_id}"]').wait_for(state="detached")
    with server.client() as client:
        assert client.get(f"/v1/videos/{task_id}").status_code == 404
    tab.assert_no_console_errors()


def test_an_invalid_field_shows_the_servers_message_next_to_it(
    tab: Tab, settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(settings.model_copy(update={"run_worker": False}))
    tab.open(server)
    tab.sign_in(server.admin_key)
    page = tab.page
    page.get_by_label("Prompt").fill("   ")
    page.get_by_role("button", name="Generate").click()
    message = page.locator("#prompt-error")
    message.filter(has_text="prompt must not be empty.").wait_for()
    assert page.get_by_label("Prompt").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Prompt").get_attribute("aria-describedby") == "prompt-error"
    with server.client() as client:
        assert client.get("/v1/veo/videos").json()["data"] == []
    tab.assert_no_console_errors(expected_statuses=(400,))


def test_an_admin_creates_and_revokes_a_key(tab: Tab, server: LiveServer) -> None:
    tab.open(server)
    tab.sign_in(server.admin_key)
    page = tab.page
    page.get_by_role("button", name="Admin").click()
    page.get_by_label("Name").fill("ci-robot")
    page.get_by_label("Tenant").fill("robots")
    page.get_by_label("Requests per minute").fill("30")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#secret-key")
    secret.filter(has_text=re.compile(".{20,}")).wait_for()
    key = (secret.text_content() or "").strip()
    assert (page.locator("#secret-webhook").text_content() or "").startswith("whsec_")
    row = page.locator("#keys tbody tr", has_text="ci-robot")
    assert "30/min" in (row.text_content() or "")
    assert key not in (page.locator("#keys").text_content() or "")
    tab.screenshot("admin", hide=("#secret-key", "#secret-webhook"))
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.get("/v1/veo/videos").status_code == 200
        page.get_by_role("button", name="Revoke ci-robot").click()
        row.filter(has_text="revoked").wait_for()
        assert client.get("/v1/veo/videos").status_code == 401
    tab.assert_no_console_errors()


def test_a_second_tenant_never_sees_the_first_tenants_tasks(
    tab: Tab, settings: Settings, make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(settings.model_copy(update={"run_worker": False}))
    with server.client() as client:
        theirs = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "secret"})
        other = client.post("/v1/admin/keys", json={"name": "b", "tenant_id": "tenant-b"})
    tab.open(server)
    tab.sign_in(other.json()["key"])
    page = tab.page
    assert not page.get_by_role("button", name="Admin").is_visible()
    mine = _create(tab, "my own")
    assert _status_of(tab, mine) == "queued"
    rows = page.locator("#task-list li")
    assert rows.count() == 1
    assert theirs.json()["id"] not in (page.content())
    tab.assert_no_console_errors()
