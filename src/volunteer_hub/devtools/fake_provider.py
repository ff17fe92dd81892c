"""What every local fake of an SMS provider's API shares.

``FakeServer``: a threaded HTTP server on 127.0.0.1 with keep-alive connections, like the
real APIs (so benchmarks reuse sockets), that stops promptly: delayed answers return at
once, idle connections are closed, and no handler thread outlives the fake.
``FakeAccount``: the script of answers to come and the records a test reads. And the
command line of ``python -m volunteer_hub.devtools.fake_…``: print the settings for the
app, then each text the fake receives, until Ctrl-C or SIGTERM. Each fake (``fake_twilio``,
``fake_aliyun``, ``fake_tencent``) adds its provider's API.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class ProviderServer(ThreadingHTTPServer):
    # Handler threads are joined on close (no thread outlives the fake); keep-alive
    # connections are shut down first so their threads end promptly.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, fake: Any):
        #: the fake whose API the handler answers
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
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs
    timeout = 30  # an idle keep-alive connection does not hold its thread forever
    server: ProviderServer

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

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(
        self, status: int, content_type: str, data: bytes, headers: Mapping[str, str] = {}
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class FakeServer:
    """Serving a fake over HTTP: start on a free port (or the given one), stop promptly,
    use as a context manager. A subclass sets ``host`` and ``port`` and names its
    ``handler``, whose ``self.server.fake`` is the fake."""

    handler: type[KeepAliveHandler]
    host: str
    port: int
    _server: ProviderServer | None = None
    _thread: threading.Thread | None = None
    _stopping: threading.Event | None = None

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping = threading.Event()
        self._server = ProviderServer((self.host, self.port), self.handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()  # no new connections
        if self._stopping is not None:
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

    @property
    def address(self) -> str:
        """``host:port`` of the running fake."""
        if self._server is None:
            raise RuntimeError("the fake is not running: start() it first")
        return f"{self.host}:{self.port}"

    def _wait(self, seconds: float) -> bool:
        """Hold an answer ``seconds``; True when the fake is stopping meanwhile."""
        if seconds <= 0 or self._stopping is None:
            return False
        return self._stopping.wait(seconds)


class FakeAccount:
    """A fake provider account's script of answers to come and its records, behind one
    lock. A subclass names the field of a recorded text that holds the number, and adds
    its own records in ``_reset_state``."""

    phone_field: str
    #: the fake's scripted-answer type; ``scripted(delay=s)`` is a success after ``s``
    scripted: type
    #: seconds every send request takes (benchmarks: provider latency)
    delay: float

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset_state()

    def _reset_state(self) -> None:
        """Forget texts, counters and the script (called under the lock, or in __init__)."""
        self._messages: list[dict[str, Any]] = []
        self._script: collections.deque[Any] = collections.deque()
        self._requests = 0
        self._auth_failures = 0

    def _enqueue(self, answer: Any, times: int) -> None:
        """The next ``times`` requests get ``answer`` (after the script so far)."""
        with self._lock:
            self._script.extend([answer] * times)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` send requests succeed, but only after ``seconds``."""
        self._enqueue(self.scripted(delay=seconds), times)

    def reset(self) -> None:
        """Forget texts, counters and the script, and what the test set up on the fake."""
        with self._lock:
            self._reset_state()
            self._forget_setup()
            self.delay = 0.0

    def _forget_setup(self) -> None:
        """Clear what a test set on the fake (numbers that fail, …); under the lock."""

    def _next_scripted(self) -> Any:
        with self._lock:
            return self._script.popleft() if self._script else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every accepted text, as the subclass records it; a copy, safe to read while
        sends go on."""
        with self._lock:
            return [dict(message) for message in self._messages]

    def messages_to(self, phone: str) -> list[dict[str, Any]]:
        return [message for message in self.messages if message[self.phone_field] == phone]

    @property
    def requests(self) -> int:
        """Send requests received, whatever their answer."""
        with self._lock:
            return self._requests

    @property
    def counters(self) -> dict[str, int]:
        """``calls``: send requests received; ``texts``: texts accepted (one per number).
        What a benchmark divides to get provider calls per text."""
        with self._lock:
            return {"calls": self._requests, "texts": len(self._messages)}

    @property
    def auth_failures(self) -> int:
        with self._lock:
            return self._auth_failures


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def fake_arguments(description: str, port: int) -> argparse.ArgumentParser:
    """The command line every fake takes; a fake adds its credentials and options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per send request")
    return parser


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"host": args.host, "port": args.port, "delay": args.delay}


def run_by_hand(
    fake: Any,
    title: str,
    describe: Callable[[dict[str, Any]], str],
    interval: float = 0.5,
    *,
    config: Callable[[], Mapping[str, Any]] | None = None,
) -> None:
    """Run ``fake`` until Ctrl-C or SIGTERM (a benchmark that started it stops it with
    terminate()), printing its ``app_config()`` (or ``config()``) and then each text in
    ``fake.messages``."""
    signal.signal(signal.SIGTERM, _interrupt)
    with fake:
        print(f"{title} listening on http://{fake.address}; for the app:", flush=True)
        for key, value in (config or fake.app_config)().items():
            if value is not None:
                print(f"  {key}={value}", flush=True)
        seen = 0
        try:
            while True:
                time.sleep(interval)
                messages = fake.messages
                for message in messages[seen:]:
                    print(describe(message), flush=True)
                seen = len(messages)
        except KeyboardInterrupt:
            print("stopping")
