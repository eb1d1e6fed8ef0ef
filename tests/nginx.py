"""nginx (Debian's package) serving a folder on loopback, logging every request.

It plays production's media server for ``HTTPStorage``: static files with
``ETag``, ``Last-Modified`` and ``Range``, keep-alive, a directory's redirect
to its slash, and a few fixed answers (redirects, 410, 403, 500) and a
catch-all single-page app under ``/spa/``, and ``/plain/``, the same files
with ``Range`` ignored. A second server on another port
("elsewhere") serves the same folder, for redirects to another origin. Every
request is logged as a JSON line (method, URI as sent, status, bytes, the
connection's serial number, the headers a test asks about), which is what
the tests count. Started on a free port with a config of its own in a temp
folder, stopped by pid.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# The answers the config gives for these names under /media/ (besides files).
FIXED = {
    "moved.jpg": "return 302 /media/photos/a.jpg",
    "elsewhere.jpg": "return 302 http://127.0.0.1:{other}/media/photos/a.jpg",
    "loop.jpg": "return 302 /media/loop.jpg",
    "ftp.jpg": "return 302 ftp://127.0.0.1/photos/a.jpg",
    "gone.jpg": "return 410",
    "forbidden.jpg": "return 403",
    "broken.jpg": "return 500",
    "teapot.jpg": "return 418",
}

_SYNC = "/__sync__/"  # the tests' own requests (see NginxServer._sync)

_LOG_FORMAT = (
    '{"method":"$request_method","uri":"$request_uri","status":$status,'
    '"bytes":$bytes_sent,"body":$body_bytes_sent,"connection":$connection,'
    '"range":"$http_range","if_match":"$http_if_match",'
    '"authorization":"$http_authorization","user_agent":"$http_user_agent"}'
)

_CONFIG = """
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {directory}/temp/body;
    proxy_temp_path {directory}/temp/proxy;
    fastcgi_temp_path {directory}/temp/fastcgi;
    uwsgi_temp_path {directory}/temp/uwsgi;
    scgi_temp_path {directory}/temp/scgi;
    types {{
        text/html html htm;
        text/plain txt;
        image/jpeg jpg jpeg;
        image/png png;
        video/mp4 mp4;
    }}
    default_type application/octet-stream;
    log_format counting escape=json '{log_format}';
    sendfile on;
    keepalive_timeout 60;
    keepalive_requests 100000;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        access_log {directory}/access.log counting;
        root {root};
{fixed}
        location /spa/ {{ try_files $uri /spa/index.html; }}
        location /plain/ {{ alias {root}/media/; max_ranges 0; }}
        location /__sync__/ {{ return 204; }}
    }}
    server {{
        listen 127.0.0.1:{other};
        access_log {directory}/elsewhere.log counting;
        root {root};
        location /__sync__/ {{ return 204; }}
    }}
}}
"""


@dataclass(frozen=True)
class Request:
    """One request as nginx logged it (``uri`` as sent, quoted)."""

    method: str
    uri: str
    status: int
    bytes: int  # sent, headers included
    body: int  # body bytes sent
    connection: int  # the connection's serial number
    range: str
    if_match: str
    authorization: str
    user_agent: str


class NginxServer:
    """``start()``, ``stop()``; ``media_url`` is where ``put()`` publishes files."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.root = directory / "root"
        self.port = 0
        self.other_port = 0
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def media_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/media/"

    @property
    def plain_url(self) -> str:
        """The same files as ``media_url``, from a server that ignores ``Range``."""
        return f"http://127.0.0.1:{self.port}/plain/"

    @property
    def spa_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/spa/"

    def start(self) -> NginxServer:
        (self.directory / "temp").mkdir(parents=True, exist_ok=True)
        self.reset()
        self.port, self.other_port = _free_ports(2)
        fixed = "\n".join(
            f"        location = /media/{name} {{ {answer.format(other=self.other_port)}; }}"
            for name, answer in FIXED.items()
        )
        config = self.directory / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                directory=self.directory,
                root=self.root,
                port=self.port,
                other=self.other_port,
                fixed=fixed,
                log_format=_LOG_FORMAT,
                # Run as root (CI's containers), the workers would switch to
                # "nobody", who may not read the tests' folders.
                user=f"user {getpass.getuser()};" if os.geteuid() == 0 else "",
            )
        )
        self._process = subprocess.Popen(
            [self.binary, "-p", str(self.directory), "-c", str(config), "-e", "stderr"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self._process.pid
        deadline = time.monotonic() + 10
        while not _listening(self.port) or not _listening(self.other_port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                self.stop()
                raise RuntimeError(f"nginx did not start on port {self.port}: {error}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.pid is None or self._process is None:
            return
        os.kill(self.pid, signal.SIGTERM)  # fast shutdown, workers included
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self._process.wait()
        if self._process.stderr is not None:
            self._process.stderr.close()
        self.pid = None

    def reset(self) -> None:
        """No file published (but the SPA's page), no request logged."""
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "media").mkdir(parents=True)
        (self.root / "spa").mkdir()
        (self.root / "spa" / "index.html").write_text("<!doctype html><title>app</title>")
        self.clear_requests()

    def put(self, name: str, body: bytes, modified: float | None = None) -> Path:
        """Publish ``name`` (its bytes as the file's name, as production stores it)."""
        path = self.root / "media" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        if modified is not None:
            os.utime(path, (modified, modified))
        return path

    def put_size(self, name: str, size: int) -> Path:
        """Publish a file of ``size`` zero bytes, written without holding them."""
        path = self.root / "media" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.truncate(size)
        return path

    def clear_requests(self) -> None:
        for log in ("access.log", "elsewhere.log"):
            (self.directory / log).write_bytes(b"")  # nginx appends (O_APPEND)

    def requests(self, log: str = "access.log") -> list[Request]:
        """The requests logged so far, the tests' own sync requests left out."""
        self._sync()
        path = self.directory / log
        lines = path.read_text().splitlines() if path.exists() else []
        requests = [Request(**json.loads(line)) for line in lines if line]
        return [request for request in requests if not request.uri.startswith(_SYNC)]

    def _sync(self) -> None:
        """Wait until every request answered so far is logged: nginx writes a
        request's line once it has sent the answer, so a client may read the
        log before it. Its one worker handles requests in turn: once a request
        sent now is logged, every earlier one is."""
        marker = f"{_SYNC}{uuid.uuid4().hex}"
        for port, log in ((self.port, "access.log"), (self.other_port, "elsewhere.log")):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{marker}", timeout=10) as answer:
                answer.read()
            deadline = time.monotonic() + 10
            while marker not in (self.directory / log).read_text():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not log {marker}")
                time.sleep(0.002)

    def counts(self, log: str = "access.log") -> Counter[str]:
        """Requests by method, e.g. ``Counter({"HEAD": 2, "GET": 1})``."""
        return Counter(request.method for request in self.requests(log))

    def connections(self) -> int:
        """TCP connections that sent at least one request."""
        return len({request.connection for request in self.requests()})


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
