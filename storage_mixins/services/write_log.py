"""The writes of one process that a shared cache may not have heard of.

A write's invalidation that did not reach the cache (it failed) waits here,
by path, until it is replayed; and the writes of the last ``horizon``
seconds are remembered, since a cache that comes back after a failure may
have lost what it had acknowledged of them (Redis restarted from a snapshot
older than them). Each path is kept with whether its outside versions go
too (a write made around the wrapper: see
``storage_mixins.services.metadata_cache``).
"""

from __future__ import annotations

import threading
import time

__all__ = ["WriteLog"]


class WriteLog:
    """Pending invalidations and recent writes, thread-safe."""

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self._lock = threading.Lock()
        self._pending: dict[str, bool] = {}  # path -> outside too
        self._recent: dict[str, tuple[float, bool]] = {}  # path -> (monotonic time, outside)

    def __len__(self) -> int:
        """How many invalidations are pending."""
        with self._lock:
            return len(self._pending)

    def written(self, path: str, outside: bool) -> None:
        """Remember a write of ``path`` (forgotten after ``horizon`` seconds)."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent
            earlier = recent.pop(path, None)
            # Kept in the order of the writes.
            recent[path] = (now, outside or (earlier is not None and earlier[1]))
            while recent:
                oldest = next(iter(recent))
                if recent[oldest][0] >= now - self.horizon:
                    break
                del recent[oldest]

    def pending(self, path: str, outside: bool) -> None:
        """Keep the invalidation of ``path``, which did not reach the cache."""
        with self._lock:
            self._pending[path] = outside or self._pending.get(path, False)

    def to_replay(self, *, recent: bool) -> dict[str, bool]:
        """The pending invalidations, and with ``recent`` the writes of the last
        ``horizon`` seconds: path -> outside too."""
        with self._lock:
            replay = dict(self._pending)
            if recent:
                horizon = time.monotonic() - self.horizon
                for path, (when, outside) in self._recent.items():
                    if when >= horizon:
                        replay[path] = outside or replay.get(path, False)
        return replay

    def replayed(self, paths: dict[str, bool]) -> bool:
        """``paths`` reached the cache; whether nothing is pending now (a write
        may have failed meanwhile)."""
        with self._lock:
            for path in paths:
                self._pending.pop(path, None)
            return not self._pending
