"""Browser fixtures: Debian's chromium driven by Playwright (headless), one context per test,
with every console error and uncaught page error collected.

Skipped, with the reason, when `/usr/bin/chromium` or the `playwright` package is missing
(`apt-get install -y chromium`; Playwright's own browser downloads are not used).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
        allow_module_level=True,
    )
pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")

from playwright.sync_api import Page, sync_playwright  # noqa: E402

if TYPE_CHECKING:
    from tests.support import LiveServer

STEP_TIMEOUT_MS = 20_000
SCREENSHOTS = os.environ.get("VGEN_DASHBOARD_SCREENSHOTS")
"""A folder (e.g. docs/img): when set, the tests save the main views there as small PNGs."""


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # The dashboard only talks HTTP; the stores are covered elsewhere on both databases.
    return f"sqlite:///{tmp_path / 'vgen.db'}"


class Tab:
    """A browser page plus what its console reported as errors.

    The browser starts at the first `open`, after the test has started its servers: they
    bootstrap their admin key with `asyncio.run`, which cannot run inside Playwright's loop.
    """

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._page: Page | None = None
        self.errors: list[str] = []

    @property
    def page(self) -> Page:
        assert self._page is not None, "open() the dashboard first"
        return self._page

    def open(self, server: LiveServer) -> None:
        if self._page is None:
            self._page = self._start()
        response = self.page.goto(server.url + "/")
        assert response is not None and response.ok
        assert "script-src 'self'" in response.headers["content-security-policy"]

    def sign_in(self, key: str) -> None:
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("button", name="Sign out").wait_for()

    def assert_no_console_errors(self, *, expected_statuses: tuple[int, ...] = ()) -> None:
        """No console error but Chromium's own line for a response the test provoked on purpose
        (a wrong key's 401, an invalid field's 400)."""
        expected = tuple(
            f"Failed to load resource: the server responded with a status of {status}"
            for status in expected_statuses
        )
        unexpected = [e for e in self.errors if not e.startswith(expected or ("\0",))]
        assert unexpected == []

    def screenshot(self, name: str, *, full_page: bool = False, hide: tuple[str, ...] = ()) -> None:
        """Save the view as docs' `dashboard-<name>.png`; `hide` masks secrets by CSS selector."""
        if not SCREENSHOTS:
            return
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        mask = [self.page.locator(selector) for selector in hide]
        png = self.page.screenshot(full_page=full_page, animations="disabled", mask=mask)
        # A 256-colour palette keeps the committed PNGs small.
        image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
        image.save(folder / f"dashboard-{name}.png", optimize=True)

    def _start(self) -> Page:
        playwright = self._stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        self._stack.callback(browser.close)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        return page


@pytest.fixture
def tab() -> Iterator[Tab]:
    with ExitStack() as stack:
        yield Tab(stack)
