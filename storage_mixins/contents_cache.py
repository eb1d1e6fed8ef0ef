"""Local copies of remote files ("hydration"): atomic, streamed, single-flight.

Copies live in a local storage (one that gives ``path()``, typically a
``FileSystemStorage`` on a cache directory), under a namespace per wrapped
storage, each in a directory of its own named by a hash of the file's name:
``<namespace>/3f/3f9a…e1/cat.jpg`` for ``photos/cat.jpg``. Names that a
filesystem cannot hold side by side, such as ``a`` and ``a/b`` (both can be
S3 keys), then never collide, and the copy keeps its base name, extension
included, for the tools that read ``path()``. A copy is written to a
temporary file next to its final path and renamed into place only when
complete, so no reader ever sees half a file; a failed or interrupted copy
removes its temporary file. Threads that want the
same missing file wait for the one download instead of starting their own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import posixpath
import threading
from collections.abc import Callable, Iterator

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage

from .local_files import Modes, write_atomically

__all__ = ["ContentsCache"]


class ContentsCache:
    """Local copies of the files of one storage, in ``storage`` under ``namespace``."""

    def __init__(self, storage: Storage, namespace: str | Callable[[], str]) -> None:
        try:
            storage.path("")
        except NotImplementedError as exc:
            raise ImproperlyConfigured(
                f"The contents cache needs a storage with local paths, such as "
                f"FileSystemStorage; {storage!r} has none"
            ) from exc
        self.storage = storage
        self._namespace = namespace

    @property
    def namespace(self) -> str:
        namespace = self._namespace
        return namespace if isinstance(namespace, str) else namespace()

    def path(self, name: str) -> str:
        """Where the copy of ``name`` lives (whether or not it exists yet)."""
        return self.storage.path(_relative_path(self.namespace, name))

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
        """Write ``chunks`` as the copy of ``name``, atomically, with the modes
        the contents storage gives what it saves; return its path."""
        final = self.path(name)
        write_atomically(final, chunks, modified, modes=Modes.of(self.storage))
        return final

    def discard(self, name: str) -> None:
        # The copy's directory stays: removing it could race with a copy
        # being written there.
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


@functools.lru_cache(maxsize=8192)
def _relative_path(namespace: str, name: str) -> str:
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{namespace}/{digest[:2]}/{digest}/{posixpath.basename(name) or '_'}"
