"""API.md §2: once a create has been accepted, the SDK's automatic retry after a lost answer
returns the same video instead of making a second one.

A loopback TCP proxy between the SDK and vgen forwards the first create, waits until vgen has
answered (the task is committed by then), and cuts the client's connection instead of passing
the answer on; the SDK sees a dropped connection and retries on its own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.api.sdk import SORA_DEPRECATION, openai_client
from tests.api.test_tenancy_and_idempotency import make_key
from tests.support import LiveServer

pytestmark = pytest.mark.filterwarnings(SORA_DEPRECATION)


class AnswerDroppingProxy:
    """Forwards loopback TCP to `target`, but for the first `drops` connections that open with
    `POST /v1/videos` it swallows the upstream's answer and closes the client's socket."""

    def __init__(self, target_port: int, *, drops: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._drops_left = drops
        self._lock = threading.Lock()
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = [self._listener]
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed by `close`
                return
            self._start(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self._target)
        self._sockets += [client, upstream]
        with client, upstream:
            first = client.recv(65536)
            with self._lock:
                drop = first.startswith(b"POST /v1/videos ") and self._drops_left > 0
                self._drops_left -= drop
            upstream.sendall(first)
            self._start(_pipe, client, upstream)  # the rest of the request, and what follows
            if drop:
                upstream.recv(1)  # vgen has answered: the task exists
                self.dropped += 1
                client.shutdown(socket.SHUT_RDWR)
            else:
                _pipe(upstream, client)

    def close(self) -> None:
        for sock in self._sockets:
            # shutdown, unlike close, wakes a thread blocked in accept() or recv() on it.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=10)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:  # the other side closed: the connection is over
        pass


@pytest.fixture
def proxy(shared_server: LiveServer) -> Iterator[AnswerDroppingProxy]:
    port = int(shared_server.url.rsplit(":", 1)[1])
    dropping = AnswerDroppingProxy(port, drops=1)
    yield dropping
    dropping.close()


@pytest.mark.parametrize("idempotency_key", [None, "client-chosen-key"])
def test_sdk_retry_after_a_lost_answer_returns_the_same_video(
    shared_server: LiveServer, proxy: AnswerDroppingProxy, idempotency_key: str | None
) -> None:
    """The SDK sends no Idempotency-Key of its own but numbers its retries
    (`x-stainless-retry-count`); a caller may also pass its own key."""
    key = make_key(shared_server, f"retry-{idempotency_key}")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    with openai_client(shared_server, key, max_retries=2) as direct:
        behind_proxy = direct.with_options(base_url=f"{proxy.url}/v1")
        video = behind_proxy.videos.create(
            prompt="exactly once", size="720x1280", extra_headers=headers
        )
        assert proxy.dropped == 1
        assert [v.id for v in direct.videos.list()] == [video.id]
        # A deliberate second create (not a retry) is a new video.
        again = direct.videos.create(prompt="exactly once", size="720x1280", extra_headers=None)
        assert again.id != video.id
