"""Writing a file into a local storage's directory, as the storage's own save would.

Every file storage_mixins writes itself into a ``FileSystemStorage`` (a pulled
file, a copy-up before an append, a tombstone, a contents copy) goes through
:func:`write_atomically`:

* the storage's modes, as ``FileSystemStorage._save`` gives them: the file
  is created with ``0o666`` less the umask, then given ``file_permissions_mode``
  if set; each directory created on the way gets ``directory_permissions_mode``
  (every new level, as Django does), or ``0o777`` less the umask. The umask is
  never changed: it is the process's, and copies run on several threads. Where
  the storage's save also gives a new file its location's group (Django 6.1),
  so does this;
* atomically: the bytes go to a temporary file (``.partial-…``) in the same
  directory, which is given its name only when complete; a failure or an
  interruption removes it;
* never over a file it was not meant to replace. ``replace=True`` replaces
  whatever is there (caches, rewrites of a file by its owner);
  ``replace=False`` never replaces: the name is published with ``link()``,
  which fails if anything (a file, a link, a directory) has the name, and
  :class:`Taken` is raised; a :class:`FileIdentity` replaces only that file,
  checked right before the rename.

What remains: with a :class:`FileIdentity`, the check and the rename are two
system calls, so a file saved in the microseconds between them is replaced;
and a program still writing into the old file through a descriptor opened
before the rename writes into a file that no longer has the name. On a
filesystem without hard links (``link()`` refused: FAT, some network and
container mounts), ``replace=False`` checks that the name is free, then
renames, with the same window.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["UMASK", "FileIdentity", "Modes", "Taken", "make_directories", "write_atomically"]

# link() errors that mean "this filesystem has no hard links", not "taken".
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


class Taken(FileExistsError):
    """The destination has a file that the write was not meant to replace: one
    created, or changed, since the writer looked."""


class FileIdentity(NamedTuple):
    """What tells one file from another at a path (its ``lstat``): the same
    inode with the same size and times is the same, untouched, file."""

    device: int
    inode: int
    size: int
    modified: int
    changed: int

    @classmethod
    def of(cls, path: str) -> FileIdentity | None:
        """The identity of what is at ``path`` (a link itself, not its
        target), or ``None`` if nothing is."""
        try:
            status = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return cls(
            status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns
        )


@dataclass(frozen=True, slots=True)
class Modes:
    """The modes of a new file and of each new directory (``None``: the
    umask's), and the storage whose location's group a new file gets, where
    its save gives it."""

    file: int | None = None
    directory: int | None = None
    storage: Any = None

    @classmethod
    def of(cls, storage: Any) -> Modes:
        """The modes ``storage`` gives what it saves (its settings and options;
        a wrapper answers for the storage it wraps)."""
        return cls(
            getattr(storage, "file_permissions_mode", None),
            getattr(storage, "directory_permissions_mode", None),
            storage,
        )


UMASK = Modes()  # the umask's modes, and no storage's group


def write_atomically(
    path: str,
    chunks: Iterator[bytes],
    modified: float | None = None,
    *,
    modes: Modes = UMASK,
    replace: bool | FileIdentity = True,
) -> None:
    """Write ``chunks`` to ``path`` as described above; ``modified`` becomes its
    modification time. Raises :class:`Taken` (a ``FileExistsError``), leaving
    what is at ``path`` alone, when ``replace`` does not allow replacing it."""
    directory = os.path.dirname(path)
    make_directories(directory, modes.directory)
    partial = os.path.join(directory, f".partial-{secrets.token_hex(8)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        # 0o666 as Django's save; never more open than the final mode while it is written.
        created = 0o666 if modes.file is None else modes.file & 0o666
        with open(os.open(partial, flags, created), "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        if modes.file is not None:
            os.chmod(partial, modes.file)
        group = getattr(modes.storage, "_ensure_location_group_id", None)
        if group is not None:
            group(partial)  # Django 6.1's save gives new files the location's group
        if modified is not None:
            os.utime(partial, (modified, modified))
        _publish(partial, path, replace)
    finally:
        # Gone once renamed; after a link() or a failure, the temporary name.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _publish(partial: str, path: str, replace: bool | FileIdentity) -> None:
    if replace is True:
        os.replace(partial, path)
        return
    if replace is not False:
        if FileIdentity.of(path) != replace:
            raise Taken(errno.EEXIST, "Created or changed since it was looked at", path)
        os.replace(partial, path)
        return
    try:
        os.link(partial, path)
    except FileExistsError as exc:
        raise Taken(errno.EEXIST, "Created since it was looked at", path) from exc
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(path):
            raise Taken(errno.EEXIST, "Created since it was looked at", path) from exc
        os.replace(partial, path)


def make_directories(directory: str, mode: int | None) -> None:
    """Create ``directory`` and its missing parents, as ``FileSystemStorage._save``
    does: each new one with ``mode`` exactly, or, for ``None``, ``0o777`` less
    the umask. Existing directories are left as they are."""
    if mode is None:
        os.makedirs(directory, exist_ok=True)
        return
    missing = []
    while not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for new in reversed(missing):
        try:
            os.mkdir(new, mode)  # never more than mode, whatever the umask…
        except FileExistsError:
            if not os.path.isdir(new):  # a file in the way: as os.makedirs says it
                raise
            continue  # created meanwhile, by another writer: its own
        os.chmod(new, mode)  # …and exactly mode, as the umask may have taken bits off
