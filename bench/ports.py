"""Loopback ports for the benchmarks' server processes: pick a free one, wait until it listens."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: Any, *, timeout_s: float = 60.0) -> None:
    """Return once `port` accepts connections; raise if `process` (a multiprocessing Process)
    exits first or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        if not process.is_alive():
            raise RuntimeError(f"the server process exited with code {process.exitcode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not listen on port {port} in {timeout_s:.0f} s")
        time.sleep(0.05)
