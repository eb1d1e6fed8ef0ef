"""A circuit breaker: a storage that is down costs nothing while it is down.

A *transport* error (the storage cannot be reached) counts as a failure; after
``failures`` of them in a row the breaker *opens*, and callers skip the storage
without a request for ``retry_after`` seconds; then one caller probes it, and
a success closes the breaker. ``Fallback(..., on_error="skip")`` reads each
layer through one, and so do the listings of that layer.
"""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["CircuitBreaker"]

logger = logging.getLogger("storage_mixins.failover")


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
