"""A hostile review of ``HTTPStorage`` (issue 24): a server on loopback that
lies (a 206 for other bytes than asked, a Content-Length it does not send, a
gzip body it was not asked for) and redirects that try to carry credentials
away, or leave http."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3

from storage_mixins import FileChangedError, HTTPStorage
from storage_mixins.backends.errors import HTTPStatusError

BODY = bytes(range(256)) * 8  # 2 KiB

Answer = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:
        self.server.seen.append((self.command, self.path, dict(self.headers)))
        self.server.answer(self)

    do_HEAD = do_GET

    def log_message(self, *args: Any) -> None:
        pass


class Server:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.seen = []  # type: ignore[attr-defined]
        self.httpd.answer = lambda handler: None  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/media/"

    @property
    def seen(self) -> list[tuple[str, str, dict[str, str]]]:
        return self.httpd.seen  # type: ignore[attr-defined, no-any-return]

    def answer(self, answer: Answer) -> None:
        self.httpd.answer = answer  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    started = Server()
    yield started
    started.stop()


@pytest.fixture
def other() -> Iterator[Server]:
    started = Server()
    yield started
    started.stop()


def _send(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str],
          body: bytes = b"") -> None:  # fmt: skip
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    if handler.command == "GET" and body:
        handler.wfile.write(body)


def test_credentials_never_follow_a_redirect_to_another_port_or_host(
    server: Server, other: Server
) -> None:
    port = other.httpd.server_address[1]
    server.answer(lambda h: _send(h, 302, {"Location": f"http://127.0.0.1:{port}/x",
                                           "Content-Length": "0"}))  # fmt: skip
    other.answer(lambda h: _send(h, 200, {"Content-Length": str(len(BODY))}, BODY))
    storage = HTTPStorage(server.url, basic_auth="user:secret", headers={"X-Token": "t"})
    assert storage.exists("a.bin")
    with storage.open("a.bin") as handle:
        assert handle.read() == BODY
    assert all("Authorization" in headers and headers.get("X-Token") == "t"
               for _method, _path, headers in server.seen)  # fmt: skip
    assert other.seen
    for _method, _path, headers in other.seen:
        assert "Authorization" not in headers
        assert "X-Token" not in headers


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://127.0.0.1/a", "javascript:alert(1)", "data:,x"]
)
def test_a_redirect_out_of_http_is_an_error(server: Server, location: str) -> None:
    server.answer(lambda h: _send(h, 302, {"Location": location, "Content-Length": "0"}))
    storage = HTTPStorage(server.url)
    with pytest.raises(HTTPStatusError, match="not http"):
        storage.exists("a.bin")
    with pytest.raises(HTTPStatusError, match="not http"):
        storage.open("a.bin")


@pytest.mark.parametrize("name", ["a?b.bin", "a#b.bin", "%2e%2e/x.bin", "a/%2F/b.bin"])
def test_hostile_names_stay_under_the_base_path(server: Server, name: str) -> None:
    server.answer(lambda h: _send(h, 404, {"Content-Length": "0"}))
    storage = HTTPStorage(server.url)
    assert not storage.exists(name)
    [(_method, path, _headers)] = server.seen
    assert path.startswith("/media/")
    assert "?" not in path and "#" not in path and "/../" not in path


def test_a_206_for_other_bytes_than_asked_is_not_read_as_them(server: Server) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        # Whatever is asked, bytes 100-199 of the file.
        part = BODY[100:200]
        _send(handler, 206, {"Content-Range": f"bytes 100-199/{len(BODY)}",
                             "Content-Length": str(len(part)), "ETag": '"v1"'}, part)  # fmt: skip

    server.answer(answer)
    storage = HTTPStorage(server.url)
    # Read as bytes 0-99, they were a corrupt file, silently.
    with pytest.raises(OSError, match="answered bytes 100-199 when asked for bytes from 0"):
        storage.open("a.bin")


def test_a_206_for_other_bytes_after_a_seek_is_not_read_as_them(server: Server) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        asked = int(handler.headers["Range"].split("=")[1].split("-")[0])
        start = 0 if asked == 0 else asked - 50  # a proxy that rounds ranges down
        part = BODY[start : start + 100]
        _send(handler, 206, {"Content-Range": f"bytes {start}-{start + 99}/{len(BODY)}",
                             "Content-Length": "100", "ETag": '"v1"'}, part)  # fmt: skip

    server.answer(answer)
    storage = HTTPStorage(server.url)
    with storage.open("a.bin") as handle:
        assert handle.read(10) == BODY[:10]
        handle.seek(1000)
        with pytest.raises(OSError, match="when asked for bytes from 1000"):
            handle.read(10)


def test_a_body_shorter_than_its_content_length_is_an_error(server: Server) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, 200, {"Content-Length": str(len(BODY)), "Connection": "close"},
              BODY[:100])  # fmt: skip
        handler.close_connection = True

    server.answer(answer)
    storage = HTTPStorage(server.url, retries=0)
    with storage.open("a.bin") as handle, pytest.raises(urllib3.exceptions.ProtocolError):
        handle.read()  # never the first 100 bytes as the whole file


def test_a_gzip_body_nobody_asked_for_reads_as_its_size_says(server: Server) -> None:
    packed = gzip.compress(BODY)

    def answer(handler: BaseHTTPRequestHandler) -> None:
        _send(handler, 200, {"Content-Encoding": "gzip", "Content-Length": str(len(packed))},
              packed)  # fmt: skip

    server.answer(answer)
    storage = HTTPStorage(server.url)
    with storage.open("a.bin") as handle:
        data = handle.read()
    assert len(data) == storage.size("a.bin")
    assert all(headers.get("Accept-Encoding") == "identity" for *_, headers in server.seen)


def test_a_file_without_validators_that_changes_size_while_read_raises_file_changed(
    server: Server,
) -> None:
    old, new = BODY[:300], bytes(reversed(BODY))[:400]

    def answer(handler: BaseHTTPRequestHandler) -> None:
        # No ETag, no Last-Modified: nothing to pin the version to. The first
        # answer is a short window of the old file; the rest is the new one's.
        asked = int(handler.headers["Range"].split("=")[1].split("-")[0])
        body, start = (old[:100], 0) if asked == 0 else (new[asked:], asked)
        total = len(old) if asked == 0 else len(new)
        _send(handler, 206, {"Content-Range": f"bytes {start}-{start + len(body) - 1}/{total}",
                             "Content-Length": str(len(body))}, body)  # fmt: skip

    server.answer(answer)
    storage = HTTPStorage(server.url)
    with storage.open("a.bin") as handle, pytest.raises(FileChangedError):
        handle.read()  # never old[:100] + new[100:]
