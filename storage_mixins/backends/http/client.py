"""The HTTP client of one ``HTTPStorage``: ``GET`` and ``HEAD`` only, through one
urllib3 pool, with timeouts, retries, redirects, and every attempt reported.

* **One pool per storage**, made at the first request (again in a forked
  child: a socket is never shared between processes), thread-safe, keeping
  up to ``max_connections`` connections alive per host.
* **Timeouts**: ``connect_timeout`` to open a connection, ``timeout`` for each
  read of the socket (a server that hangs raises urllib3's
  ``ReadTimeoutError`` within it: a transport error).
* **Retries** (``retries`` more attempts, waiting ``backoff`` seconds, then
  twice as long…): both methods are idempotent, so a connection refused or
  reset before the answer, and a ``502``, ``503`` or ``504``, are tried again.
  A timeout is not: a server that hangs would make the caller wait once per
  attempt, and the layer is down either way.
* **Redirects** are followed, up to ``max_redirects``, with the same method:
  the answer at the end is read as any answer is. Only ``http`` and
  ``https`` targets are followed, and the storage's own ``headers`` (a
  token, basic auth) are sent to the base URL's origin only, never to
  wherever a redirect points.
* **Counted**: each attempt, retries and redirects included, is reported to
  :func:`storage_mixins.core.hooks.backend_request` as ``("HTTP", method,
  name, storage)`` (the name under the base URL, or the path a redirect
  leads to), and logged at ``DEBUG`` on the
  ``storage_mixins.http`` logger.

Errors keep their type (urllib3's, with a note saying which request): what
they mean is ``storage_mixins.backends.errors``'s to say.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

from ...core import hooks
from ..errors import HTTPStatusError

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse, PoolManager

__all__ = ["USER_AGENT", "HTTPClient", "discard", "origin_of"]

logger = logging.getLogger("storage_mixins.http")

USER_AGENT = "storage-mixins HTTPStorage"
METHODS = frozenset({"GET", "HEAD"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRIED_STATUSES = frozenset({502, 503, 504})
#: An unread body up to this size is read to keep its connection alive;
#: a larger one is dropped with its connection (never download a large page).
_DRAIN_LIMIT = 64 * 1024


def origin_of(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the port made explicit."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class HTTPClient:
    """Sends ``GET`` and ``HEAD`` requests under ``base_url`` (see the module)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        connect_timeout: float,
        timeout: float,
        retries: int,
        backoff: float,
        max_redirects: int,
        max_connections: int,
        storage: object = None,
    ) -> None:
        self.base_url = base_url
        self._storage: weakref.ref[object] | None = None
        if storage is not None:
            self.report_as(storage)
        self.origin = origin_of(base_url)
        self.headers = dict(headers)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_redirects = max_redirects
        self.max_connections = max_connections
        self._pool: PoolManager | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def send(
        self, method: str, url: str, headers: Mapping[str, str] | None = None
    ) -> BaseHTTPResponse:
        """The answer to ``method url`` once redirects are followed, its body
        unread (stream it, or :func:`discard` it). Any status is returned;
        urllib3's errors are raised once the attempts are spent."""
        if method not in METHODS:  # never anything that could change a file
            raise ValueError(f"HTTPStorage sends GET and HEAD only, not {method!r}")
        extra = dict(headers or {})
        for _hop in range(self.max_redirects + 1):
            response = self._attempts(method, url, extra)
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            discard(response)
            url = _redirected(url, location)
        raise HTTPStatusError(response.status, url, f"more than {self.max_redirects} redirects")

    def report_as(self, storage: object) -> None:
        """Report requests as sent by ``storage``, the one that holds this client
        (weakly: it holds the client)."""
        self._storage = weakref.ref(storage)

    def target(self, url: str) -> str:
        """What a request for ``url`` is about: the file's name under the base
        URL, or else the URL's path (a redirect elsewhere)."""
        if url.startswith(self.base_url):
            return unquote(urlsplit(url[len(self.base_url) :]).path)
        return urlsplit(url).path

    def pool(self) -> PoolManager:
        """The pool of this process (made at the first request)."""
        pool, pid = self._pool, os.getpid()
        if pool is None or self._pid != pid:
            with self._lock:
                if self._pool is None or self._pid != pid:
                    self._pool, self._pid = self._new_pool(), pid
                pool = self._pool
        return pool

    def _new_pool(self) -> PoolManager:
        import urllib3

        return urllib3.PoolManager(
            num_pools=4,  # the base URL's host, and a few a redirect may lead to
            maxsize=self.max_connections,
            block=False,  # more threads than connections: extra ones, not kept
            timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.timeout),
            retries=False,
        )

    def _attempts(self, method: str, url: str, extra: dict[str, str]) -> BaseHTTPResponse:
        import urllib3

        pool = self.pool()
        headers = {**self._headers_for(url), **extra}
        target = self.target(url)
        storage = self._storage() if self._storage is not None else None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            hooks.backend_request("HTTP", method, target, storage)
            started = time.perf_counter()
            try:
                response = pool.urlopen(
                    method,
                    url,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    preload_content=False,
                    decode_content=False,  # the bytes as stored (Content-Length's)
                )
            except urllib3.exceptions.HTTPError as exc:
                last = attempt == self.retries or not _worth_retrying(exc, urllib3)
                logger.debug("%s %s: %s (attempt %d)", method, url, exc, attempt + 1)
                if last:
                    exc.add_note(f"HTTPStorage: {method} {url}, attempt {attempt + 1}")
                    raise
                continue
            milliseconds = (time.perf_counter() - started) * 1000
            logger.debug("%s %s: %d in %.1f ms", method, url, response.status, milliseconds)
            if response.status in _RETRIED_STATUSES and attempt < self.retries:
                discard(response)
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _headers_for(self, url: str) -> dict[str, str]:
        """What every request to ``url`` carries: the storage's own headers only
        on the base URL's origin (a redirect elsewhere gets none of them)."""
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if origin_of(url) == self.origin:
            headers.update(self.headers)
        return headers

    # A client holds a pool and a lock: copies and pickles make their own.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_pool=None, _pid=0, _lock=None, _storage=None)  # the copy's storage relinks
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _worth_retrying(exc: BaseException, urllib3: Any) -> bool:
    """A connection refused, or one reset or closed before the answer (a
    kept-alive connection the server had dropped): yes. A timeout, or a
    name that does not resolve: no (see the module)."""
    errors = urllib3.exceptions
    if isinstance(exc, errors.NameResolutionError):
        return False
    # NewConnectionError (refused, unreachable) subclasses ConnectTimeoutError,
    # which a connection that timed out raises itself: not retried.
    return isinstance(exc, errors.NewConnectionError | errors.ProtocolError)


def _redirected(url: str, location: str) -> str:
    target = urljoin(url, location)
    if urlsplit(target).scheme not in ("http", "https"):
        raise HTTPStatusError(302, url, f"a redirect to {target!r}, which is not http(s)")
    return target


def discard(response: BaseHTTPResponse) -> None:
    """Give ``response``'s connection back to the pool, reading what is left of
    a small body, or dropping the connection with a large (or unknown) one."""
    remaining = response.length_remaining
    if remaining is not None and remaining <= _DRAIN_LIMIT:
        response.drain_conn()
    else:
        response.close()
    response.release_conn()
