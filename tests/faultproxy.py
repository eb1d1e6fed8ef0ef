"""A fault-injecting HTTP proxy for the reliability tests.

It sits on loopback between a stack and the in-process S3 server and forwards every
request until told to drop or reset connections, delay requests, or answer 500/503
itself: the ways a live S3 misbehaves that a stopped server cannot imitate.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import Message
from http.client import HTTPConnection, HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

Mode = Literal["ok", "drop", "reset", "500", "503", "delay", "hang", "stall"]
MODES: tuple[Mode, ...] = get_args(Mode)

# The S3 error each status mode answers with, as S3 words it.
_ERRORS = {
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "503": (503, "SlowDown", "Please reduce your request rate."),
}

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_MAX_LINE = 65537
_UPSTREAM_TIMEOUT = 30.0


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream_url``, with a fault mode.

    The mode (one of :data:`MODES`, "ok" at first) applies to each request as it
    arrives and can be changed from any thread:

    - "ok": forward the request and relay the response;
    - "drop": read the request, then close the connection without a response;
    - "reset": read the request, then reset the connection (SO_LINGER 0);
    - "500", "503": answer that status with an S3 error, without asking upstream;
    - "delay": wait ``delay_seconds``, then forward;
    - "hang": read the request, then answer nothing until the proxy stops;
    - "stall": forward, send the answer's status, headers and half its body,
      then nothing more until the proxy stops (a read that hangs midway).

    A request the upstream cannot be asked is answered 502 (BadGateway).
    ``on_request(method, path)``, if given, is called as each request arrives
    (in the thread serving it), e.g. to count writes per bucket.
    """

    def __init__(
        self,
        upstream_url: str,
        delay_seconds: float = 0.05,
        on_request: Callable[[str, str], None] | None = None,
    ) -> None:
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the upstream must be an http:// URL, not {upstream_url!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self.delay_seconds = delay_seconds
        self.on_request = on_request
        self._lock = threading.Lock()
        self._mode: Mode = "ok"
        self._counts: Counter[str] = Counter()
        self._connections = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultProxy:
        """Listen on a free port of 127.0.0.1, served by a daemon thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # how long stop() may wait for the loop
            name=f"faultproxy:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, cut every connection and wait for every thread."""
        if self._server is None or self._thread is None:
            return
        self._server.close()
        self._thread.join()
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy has not been started")
        return self._server.server_port

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    def set_mode(self, mode: Mode) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            self._mode = mode

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Forward every request meanwhile, then go back to the mode before."""
        with self._lock:
            previous, self._mode = self._mode, "ok"
        try:
            yield
        finally:
            self.set_mode(previous)

    def counts(self) -> Counter[str]:
        """Requests received, by the mode they met, e.g. ``Counter({"ok": 2, "drop": 1})``."""
        with self._lock:
            return Counter(self._counts)

    @property
    def connections(self) -> int:
        """Client connections accepted."""
        with self._lock:
            return self._connections

    def reset_counts(self) -> None:
        """Forget the requests and connections counted so far."""
        with self._lock:
            self._counts.clear()
            self._connections = 0

    def _accepted(self) -> None:
        with self._lock:
            self._connections += 1

    def _arrived(self, method: str, path: str) -> Mode:
        if self.on_request is not None:
            self.on_request(method, path)
        with self._lock:
            self._counts[self._mode] += 1
            return self._mode


class _Server(ThreadingHTTPServer):
    """Serves each connection in a thread it can interrupt and join on :meth:`close`.

    (``ThreadingHTTPServer`` runs daemon threads, which its ``server_close`` does not join.)
    """

    daemon_threads = True

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._clients: set[socket.socket] = set()
        self._upstreams: set[HTTPConnection] = set()
        self._handler_threads: list[threading.Thread] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"faultproxy:{self.server_port} client {client_address[1]}",
            daemon=True,
        )
        with self._lock:
            self._clients.add(request)
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
        self.proxy._accepted()
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._clients.discard(request)
        super().shutdown_request(request)

    def open_upstream(self) -> HTTPConnection:
        connection = HTTPConnection(*self.proxy.upstream, timeout=_UPSTREAM_TIMEOUT)
        with self._lock:
            self._upstreams.add(connection)
        return connection

    def close_upstream(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._upstreams.discard(connection)
        connection.close()

    def close(self) -> None:
        self.shutdown()  # no more connections accepted
        self.stopping.set()
        with self._lock:
            upstreams = (c.sock for c in self._upstreams if c.sock is not None)
            sockets = [*self._clients, *upstreams]
            threads = list(self._handler_threads)
        for sock in sockets:  # unblock every handler; each closes its own sockets
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" answered
    server_version = "FaultProxy"
    disable_nagle_algorithm = True  # headers and body are written separately
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.reset = False
        self.upstream = self.server.open_upstream()

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client left, or stop() cut the connection
            super().handle()

    def finish(self) -> None:
        self.server.close_upstream(self.upstream)
        super().finish()
        if self.reset:
            # Closed now, with SO_LINGER 0: an RST, and no FIN from shutdown_request() first.
            self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: the proxy is quiet."""

    def _serve(self) -> None:
        mode = self.server.proxy._arrived(self.command, self.path)
        body = self._read_body()
        if body is None:
            return
        if mode in ("drop", "reset"):
            self.close_connection = True
            if mode == "reset":
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                self.reset = True
        elif mode in _ERRORS:
            self._answer_error(*_ERRORS[mode])
        elif mode == "delay" and self.server.stopping.wait(self.server.proxy.delay_seconds):
            self.close_connection = True  # stopped while waiting: forward nothing
        elif mode == "hang":
            self.server.stopping.wait()
            self.close_connection = True
        else:
            self._forward(body, stall=mode == "stall")

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    def _read_body(self) -> bytes | None:
        """The request body, or None once the request is refused."""
        encoding = self.headers.get("Transfer-Encoding")
        try:
            if encoding is None:
                return self._read(_size(self.headers.get("Content-Length", "0"), 10))
            if encoding.strip().lower() == "chunked":
                return self._read_chunks()
        except ValueError:
            self.send_error(400, "Malformed body length")
            return None
        self.send_error(501, f"Transfer-Encoding {encoding!r} is not supported")
        return None

    def _read_chunks(self) -> bytes:
        body = bytearray()
        while size := _size(self.rfile.readline(_MAX_LINE).split(b";")[0], 16):
            body += self._read(size)
            self.rfile.readline(_MAX_LINE)  # the CRLF that ends the chunk
        while self.rfile.readline(_MAX_LINE).strip():  # trailers, up to a blank line
            pass
        return bytes(body)

    def _read(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) < size:  # never forward a truncated body: handle() ends the connection
            raise ConnectionAbortedError("the client left in the middle of the body")
        return data

    def _forward(self, body: bytes, stall: bool = False) -> None:
        headers = [
            (name, value)
            for name, value in _end_to_end(self.headers)
            if name.lower() not in ("content-length", "expect")  # the proxy did both
        ]
        if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
            headers.append(("Content-Length", str(len(body))))
        upstream = self.upstream
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            upstream.endheaders(body)
            response = upstream.getresponse()
            content = response.read()
        except (OSError, HTTPException):
            upstream.close()
            self._answer_error(502, "BadGateway", "The fault proxy could not reach its upstream.")
            return
        bodyless = self.command == "HEAD" or response.status in (204, 304)
        self.send_response_only(response.status, response.reason)
        for name, value in _end_to_end(response.msg):
            if bodyless or name.lower() != "content-length":
                self.send_header(name, value)
        if not bodyless:
            self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if stall:
            self.wfile.write(content[: len(content) // 2])
            self.wfile.flush()
            self.server.stopping.wait()
            self.close_connection = True
        elif not bodyless:
            self.wfile.write(content)

    def _answer_error(self, status: int, code: str, message: str) -> None:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>faultproxy</RequestId></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _size(text: str | bytes, base: int) -> int:
    size = int(text, base)
    if size < 0:
        raise ValueError(f"negative size {size}")
    return size


def _end_to_end(headers: Message) -> list[tuple[str, str]]:
    """The headers but the hop-by-hop ones (including those ``Connection`` names)."""
    named = {t.strip().lower() for v in headers.get_all("Connection", []) for t in v.split(",")}
    return [
        (name, value)
        for name, value in headers.items()
        if name.lower() not in _HOP_BY_HOP and name.lower() not in named
    ]
