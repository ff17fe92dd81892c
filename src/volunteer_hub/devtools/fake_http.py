"""What the local fakes of SMS providers share (``fake_twilio``, ``fake_aliyun``): a
threaded keep-alive HTTP server on 127.0.0.1 that a fake starts and stops, alone or as a
context manager, and running a fake by hand until Ctrl-C or SIGTERM.

Keep-alive, like the real APIs: the providers' SDKs and the benchmarks reuse sockets. No
thread outlives a stopped fake: idle keep-alive connections are shut down, then the
handler threads are joined.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LocalFake:
    """A fake provider served on a thread of its own. A subclass names its request
    ``handler`` and sets ``host``, ``port`` and ``_stopping`` (the event its delayed
    answers wait on) in ``__init__``."""

    handler: type[KeepAliveHandler]
    #: the name of the server thread, before the port
    thread_name = "fake"
    host: str
    port: int
    #: every message the fake accepted, a copy (each fake provides it)
    messages: list[dict[str, Any]]
    _stopping: threading.Event
    _server: FakeServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = FakeServer((self.host, self.port), self.handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.thread_name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # no new connections
        self._stopping.set()  # delayed answers return now
        server.close_connections()  # idle keep-alive connections end their handler
        server.server_close()  # and the handler threads are joined
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _require_running(self) -> None:
        if self._server is None:
            raise RuntimeError("the fake is not running: start() it first")


class FakeServer(ThreadingHTTPServer):
    # Handler threads are joined on close (no thread outlives the fake); keep-alive
    # connections are shut down first so their threads end promptly.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: LocalFake):
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected (timeout tests); stay quiet.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs: benchmarks reuse sockets
    timeout = 30  # an idle keep-alive connection does not hold its thread forever
    server: FakeServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry nothing useful and would flood benchmark output


def serve_by_hand(
    fake: LocalFake,
    name: str,
    config: Callable[[], Mapping[str, Any]],
    describe: Callable[[dict[str, Any]], str],
) -> None:
    """Run ``fake`` until Ctrl-C or SIGTERM: say where it listens and the app's
    ``config`` for it, then print a line (``describe``) for every message it accepts."""
    # A benchmark that started us stops us with terminate(): leave as cleanly as on Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    with fake:
        print(f"fake {name} listening on http://{fake.host}:{fake.port}; for the app:", flush=True)
        for key, value in config().items():
            if value is not None:
                print(f"  {key}={value}", flush=True)
        seen = 0
        try:
            while True:
                time.sleep(0.5)
                accepted = fake.messages
                for message in accepted[seen:]:
                    print(describe(message), flush=True)
                seen = len(accepted)
        except KeyboardInterrupt:
            print("stopping")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
