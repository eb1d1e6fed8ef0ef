"""moto's S3 server, in-process over real HTTP, counting every request it receives.

This is ``moto.server.ThreadedMotoServer`` plus a WSGI middleware in front of
moto's application, so tests can prove which HTTP requests a stack sent (and
that a read-only bucket received no mutating request at all). It is built from
the same public pieces ``moto.server`` exports (``DomainDispatcherApplication``,
``create_backend_app``, ``MotoRequestHandler``) because ``ThreadedMotoServer``
has no hook for middleware.
"""

from __future__ import annotations

import threading
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

MUTATING_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})

# Requests whose User-Agent carries this marker come from the tests' own
# observer client (seeding, snapshots) and are not counted.
OBSERVER_USER_AGENT = "storage-mixins-test-observer"


@dataclass(frozen=True)
class Request:
    method: str
    bucket: str
    key: str
    query: str

    @property
    def mutates(self) -> bool:
        return self.method in MUTATING_METHODS


class S3Server:
    """Start with :meth:`start`, stop with :meth:`stop`; ``endpoint_url`` points at it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> None:
        """Start serving, on ``port`` (0: a free one; a stopped server's port to
        restart it: moto keeps its buckets in memory meanwhile)."""
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1",
            port,
            self._counting(app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget every bucket and object, and every counted request."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        self.clear_requests()

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def requests(self, bucket: str | None = None) -> list[Request]:
        with self._lock:
            requests = list(self._requests)
        return [r for r in requests if bucket is None or r.bucket == bucket]

    def counts(self, bucket: str | None = None) -> Counter[str]:
        """Requests by HTTP method, e.g. ``Counter({"HEAD": 3, "GET": 1})``."""
        return Counter(r.method for r in self.requests(bucket))

    def mutations(self, bucket: str) -> list[Request]:
        return [r for r in self.requests(bucket) if r.mutates]

    def _counting(self, app: Any) -> Any:
        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            path = unquote(environ.get("PATH_INFO", ""))
            observer = OBSERVER_USER_AGENT in environ.get("HTTP_USER_AGENT", "")
            if not observer and not path.startswith("/moto-api"):
                bucket, _, key = path.lstrip("/").partition("/")
                request = Request(
                    environ["REQUEST_METHOD"], bucket, key, environ.get("QUERY_STRING", "")
                )
                with self._lock:
                    self._requests.append(request)
            return app(environ, start_response)

        return middleware
