"""Failover: a layer that is down counts as a miss, and costs nothing while down.

With ``Fallback(..., on_error="skip")`` every layer is read through a
:class:`CircuitBreaker`. A *transport* error (the layer cannot be reached) is
a miss for that read; after ``failures`` of them in a row the breaker *opens*
and the layer is skipped without any request for ``retry_after`` seconds;
then one read probes it, and a success closes the breaker. Writes never go
through a breaker: they reach the write layer or fail.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Literal, overload

from django.core.files.base import File
from django.core.files.storage import Storage

from .errors import is_not_found
from .labels import storage_label
from .storage_api import OpenMethod, TimeMethod

__all__ = ["CircuitBreaker", "GuardedLayer", "is_transport_error", "watching_skips"]

logger = logging.getLogger(__name__)

# The labels of the layers skipped during the current call, while someone
# (Caching) watches: an answer given without a layer must not outlive the outage.
_skipped: ContextVar[list[str] | None] = ContextVar("storage_mixins_skipped", default=None)


@contextlib.contextmanager
def watching_skips() -> Iterator[list[str]]:
    """Collect the layers that reads inside the block skipped because they were down."""
    skipped: list[str] = []
    token = _skipped.set(skipped)
    try:
        yield skipped
    finally:
        _skipped.reset(token)
        outer = _skipped.get()
        if outer is not None:
            outer.extend(skipped)  # a watcher further out must know too


# botocore's "could not talk to the endpoint" errors, looked up in sys.modules
# only (they can only be raised once botocore is imported).
_BOTOCORE_TRANSPORT = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ConnectionError",
    "HTTPClientError",
)


def is_transport_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage could not be reached or did not answer.

    Yes: connection refused or reset, DNS failures, timeouts, HTTP 5xx, and
    botocore's endpoint, timeout and closed-connection errors. Never: a missing
    file (404), a permission error (403; note that S3 answers 403 for a missing
    key when the credentials lack ``s3:ListBucket``, which is therefore never
    skipped), or ``SuspiciousOperation``.
    """
    if is_not_found(exc) or isinstance(exc, PermissionError):
        return False
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return True
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is not None:
        transport = tuple(getattr(botocore, name) for name in _BOTOCORE_TRANSPORT)
        if isinstance(exc, transport):
            return True
        if isinstance(exc, botocore.ClientError):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return 500 <= status < 600
    return False


class CircuitBreaker:
    """The health of one layer: closed (ask it), open (skip it), half-open
    (one caller probes it while the others skip). Thread-safe."""

    def __init__(self, label: str, failures: int, retry_after: float) -> None:
        self.label = label
        self.failures = failures
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._consecutive = 0
        self._open_until: float | None = None
        self._probing = False
        self._last_error = ""

    def allow(self) -> bool:
        """Whether to send this call to the layer."""
        if self._open_until is None:
            return True
        with self._lock:
            if self._open_until is None:
                return True
            if time.monotonic() < self._open_until or self._probing:
                return False
            self._probing = True  # this caller probes; the others keep skipping
            return True

    def succeeded(self) -> None:
        if self._consecutive or self._open_until is not None:
            with self._lock:
                was_failing = self._consecutive or self._open_until is not None
                self._consecutive, self._open_until, self._probing = 0, None, False
            if was_failing:
                logger.warning("%s answers again: reads use it again", self.label)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._consecutive += 1
            self._last_error = f"{type(exc).__name__}: {exc}"
            first = self._consecutive == 1 and self._open_until is None
            self._probing = False
            if self._consecutive >= self.failures:
                self._open_until = time.monotonic() + self.retry_after
        if first:  # once per outage, not once per call
            logger.warning(
                "%s cannot be reached (%s); reads skip it while it is down",
                self.label,
                self._last_error,
            )

    def state(self) -> str:
        """A one-line description, for describe() and storage_stack."""
        with self._lock:
            if self._open_until is None:
                if self._consecutive:
                    return f"failing ({self._consecutive} error(s) in a row: {self._last_error})"
                return "closed (healthy)"
            left = self._open_until - time.monotonic()
            if left > 0:
                return f"open: skipped for {left:.0f} s more ({self._last_error})"
            return "half-open: the next read probes it"


class GuardedLayer:
    """A layer read through its circuit breaker: a transport error, or an open
    breaker, is a miss. Only the read methods a ``Fallback`` uses are here."""

    def __init__(self, layer: Storage, breaker: CircuitBreaker) -> None:
        self.layer = layer
        self.breaker = breaker

    def exists(self, name: str) -> bool:
        return bool(self._read("exists", name, missing=False))

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        return self._read("open", name, mode)

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        return self._read("_open", name, mode)

    def size(self, name: str) -> int:
        return self._read("size", name)

    def get_accessed_time(self, name: str) -> datetime:
        return self._read("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime:
        return self._read("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime:
        return self._read("get_modified_time", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self._read("listdir", path)

    # What each method answers, as Django's Storage declares it.
    @overload
    def _read(self, method: Literal["exists"], name: str, *, missing: bool) -> bool: ...
    @overload
    def _read(self, method: OpenMethod, name: str, mode: str, /) -> File[Any]: ...
    @overload
    def _read(self, method: TimeMethod, name: str) -> datetime: ...
    @overload
    def _read(self, method: Literal["size"], name: str) -> int: ...
    @overload
    def _read(self, method: Literal["listdir"], name: str) -> tuple[list[str], list[str]]: ...

    def _read(self, method: str, name: str, *args: Any, missing: Any = None) -> Any:
        if not self.breaker.allow():
            return self._miss(method, name, missing, None)
        try:
            result = getattr(self.layer, method)(name, *args)
        except Exception as exc:
            if not is_transport_error(exc):
                self.breaker.succeeded()  # it answered, if only to say no
                raise
            self.breaker.failed(exc)
            return self._miss(method, name, missing, exc)
        self.breaker.succeeded()
        return result

    def _miss(self, method: str, name: str, missing: Any, cause: BaseException | None) -> Any:
        skipped = _skipped.get()
        if skipped is not None:
            skipped.append(self.label)
        if method == "exists":
            return missing
        error = FileNotFoundError(errno.ENOENT, f"Skipped: {self.label} cannot be reached", name)
        raise error from cause

    @property
    def label(self) -> str:
        return storage_label(self.layer)
