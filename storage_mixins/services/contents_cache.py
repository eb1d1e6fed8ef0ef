"""Local copies of remote files ("hydration"): atomic, streamed, single-flight.

Copies live in a local storage (one that gives ``path()``, typically a
``FileSystemStorage`` on a cache directory), under a namespace per wrapped
storage, each in a directory of its own named by a hash of the file's name,
and in it, one named by the *version* of the file it holds:
``<namespace>/3f/3f9a…e1/<version>/cat.jpg`` for ``photos/cat.jpg``. Names
that a filesystem cannot hold side by side, such as ``a`` and ``a/b`` (both
can be S3 keys), then never collide, and the copy keeps its base name,
extension included, for the tools that read ``path()``.

The version is the token ``storage_mixins.services.metadata_cache`` keeps for the
file's name, which every write through any wrapper sharing the cache
replaces: a copy made under a version holds the file as it was then or
later, so it stands for the file for as long as that version is current, in
every process, whatever folder it keeps its copies in. Size and modification
time alone cannot tell two writes of one size within one second apart (S3
keeps whole seconds). Storing a version removes the copies of the others
(a read that finds its copy gone since it chose it reads from the storage).

A copy is written to a temporary file next to its final path and renamed
into place only when complete, so no reader ever sees half a file; a failed
or interrupted copy removes its temporary file. Threads that want the same
missing file wait for the one download instead of starting their own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import posixpath
from collections.abc import Callable, Iterator

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage

from ..backends.local_files import Modes, write_atomically
from .keyed_locks import KeyedLocks

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

    def path(self, name: str, version: str) -> str:
        """Where the copy of ``name`` at ``version`` lives (whether or not it exists yet)."""
        return self.storage.path(_relative_path(self.namespace, name, version))

    def matches(self, name: str, version: str, size: int, modified: float | None) -> bool:
        """Whether a complete copy of ``name`` at ``version``, with this size and
        modification time, exists."""
        try:
            stat = os.stat(self.path(name, version))
        except (FileNotFoundError, NotADirectoryError):
            return False
        if stat.st_size != size:
            return False
        return modified is None or int(stat.st_mtime) == int(modified)

    def store(
        self, name: str, version: str, chunks: Iterator[bytes], modified: float | None
    ) -> str:
        """Write ``chunks`` as the copy of ``name`` at ``version``, atomically,
        with the modes the contents storage gives what it saves, and remove the
        copies of other versions; return its path."""
        final = self.path(name, version)
        write_atomically(final, chunks, modified, modes=Modes.of(self.storage))
        self._remove_copies(name, keep=os.path.dirname(final))
        return final

    def discard(self, name: str) -> None:
        """Remove every copy of ``name`` (it was written)."""
        self._remove_copies(name, keep=None)

    def _remove_copies(self, name: str, keep: str | None) -> None:
        # The versions' directories stay: removing one could race with a copy
        # being written there (the directory is made, then the file).
        try:
            versions = os.scandir(self.storage.path(_relative_path(self.namespace, name)))
        except (FileNotFoundError, NotADirectoryError):
            return
        with versions:
            for version in versions:
                if version.path != keep and version.is_dir(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        os.unlink(os.path.join(version.path, _base(name)))

    @contextlib.contextmanager
    def single_flight(self, name: str) -> Iterator[None]:
        """Hold the lock for ``name``'s copies: one download at a time, per process."""
        with _locks.hold(self.storage.path(_relative_path(self.namespace, name))):
            yield


_locks = KeyedLocks()


@functools.lru_cache(maxsize=8192)
def _relative_path(namespace: str, name: str, version: str | None = None) -> str:
    """The directory of ``name``'s copies or, with ``version``, that version's copy."""
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    directory = f"{namespace}/{digest[:2]}/{digest}"
    if version is None:
        return directory
    # Tokens are short and plain, but a hash keeps any version a safe name.
    tag = hashlib.blake2b(version.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return f"{directory}/{tag}/{_base(name)}"


def _base(name: str) -> str:
    return posixpath.basename(name) or "_"
