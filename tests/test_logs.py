"""Log lines: readable text for a person at a terminal, JSON for anything else, and
`VGEN_LOG_FORMAT` overrides either way."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

# Configures logging the way `vgen serve` / `vgen worker` do, then logs one task line.
_LOGGING_PROCESS = """
import logging
from vgen.config import Settings
from vgen.logs import configure_logging, task_context
settings = Settings()
configure_logging(settings.log_format, settings.log_level)
with task_context("vgen_abc"):
    logging.getLogger("vgen.check").warning("disk nearly full")
"""


def _stderr_of(env: dict[str, str], *, terminal: bool) -> str:
    env = {k: v for k, v in {**os.environ, **env}.items() if k != "VGEN_LOG_FORMAT" or v}
    if not terminal:
        done = subprocess.run(
            [sys.executable, "-c", _LOGGING_PROCESS], env=env, capture_output=True, timeout=60
        )
        return done.stderr.decode()
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LOGGING_PROCESS], env=env, stderr=follower, timeout=60
        )
        assert done.returncode == 0
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_a_terminal_gets_readable_lines_with_the_task_id() -> None:
    line = _stderr_of({"VGEN_LOG_FORMAT": ""}, terminal=True).strip()
    assert "WARNING vgen.check: disk nearly full task_id=vgen_abc" in line, line
    assert not line.startswith("{")


def test_a_pipe_gets_json_lines() -> None:
    entry = json.loads(_stderr_of({"VGEN_LOG_FORMAT": ""}, terminal=False).strip())
    assert entry["message"] == "disk nearly full"
    assert entry["level"] == "warning" and entry["task_id"] == "vgen_abc"


@pytest.mark.parametrize(("forced", "terminal"), [("json", True), ("text", False)])
def test_vgen_log_format_overrides_the_guess(forced: str, terminal: bool) -> None:
    line = _stderr_of({"VGEN_LOG_FORMAT": forced}, terminal=terminal).strip()
    assert line.startswith("{") == (forced == "json"), line
    assert "disk nearly full" in line
