"""Local copies of remote files ("hydration"): atomic, streamed, single-flight.

Copies live in a local storage (one that gives ``path()``, typically a
``FileSystemStorage`` on a cache directory), under a namespace per wrapped
storage. A copy is written to a temporary file next to its final path and
renamed into place only when complete, so no reader ever sees half a file; a
failed or interrupted copy removes its temporary file. Threads that want the
same missing file wait for the one download instead of starting their own.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .streaming import write_atomically

__all__ = ["ContentsCache"]


class ContentsCache:
    """Local copies of the files of one storage, in ``storage`` under ``namespace``."""

    def __init__(self, storage: Any, namespace: str) -> None:
        try:
            storage.path("")
        except NotImplementedError as exc:
            raise ImproperlyConfigured(
                f"The contents cache needs a storage with local paths, such as "
                f"FileSystemStorage; {storage!r} has none"
            ) from exc
        self.storage = storage
        self.namespace = namespace

    def path(self, name: str) -> str:
        """Where the copy of ``name`` lives (whether or not it exists yet)."""
        return self.storage.path(f"{self.namespace}/{name}")

    def matches(self, name: str, size: int, modified: float | None) -> bool:
        """Whether a complete copy of ``name`` with this size and modification time exists."""
        try:
            stat = os.stat(self.path(name))
        except (FileNotFoundError, NotADirectoryError):
            return False
        if stat.st_size != size:
            return False
        return modified is None or int(stat.st_mtime) == int(modified)

    def store(self, name: str, chunks: Iterator[bytes], modified: float | None) -> str:
        """Write ``chunks`` as the copy of ``name``, atomically; return its path."""
        final = self.path(name)
        write_atomically(final, chunks, modified)
        return final

    def discard(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            os.unlink(self.path(name))

    @contextlib.contextmanager
    def single_flight(self, name: str) -> Iterator[None]:
        """Hold the lock for ``name``'s copy: one download at a time, per process."""
        with _locks.hold(self.path(name)):
            yield


class _KeyedLocks:
    """One lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, list[int]]] = {}

    @contextlib.contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users[0] -= 1
                if not users[0]:
                    del self._locks[key]


_locks = _KeyedLocks()
