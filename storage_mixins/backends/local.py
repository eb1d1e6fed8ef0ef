"""Local disks (``FileSystemStorage``): what is local, its paths, and listing
it with ``os.scandir``.

A local backend's files can be reached through the OS, around the storage
API (``path()``, symlinks): the write guard (``backends.local_writes``) and
the writer of files (``backends.local_files``) build on what is here.
"""

from __future__ import annotations

import datetime
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Any, TypeGuard

from django.core.files.storage import FileSystemStorage, InMemoryStorage, Storage

from .listing import ASK, Entry, Kind, Lister, Listing, incomplete, joined, own_methods
from .local_files import Modes, make_directories

__all__ = [
    "FileSystemKind",
    "FileSystemLister",
    "is_directory",
    "is_local",
    "local_path",
    "make_parent_directory",
    "makes_no_requests",
    "new_local_path",
]


def is_local(storage: object) -> TypeGuard[FileSystemStorage]:
    """Whether ``storage`` (or the storage a wrapper proxies) keeps files in a
    local directory that writes could reach through the OS."""
    return isinstance(storage, FileSystemStorage)


def makes_no_requests(backend: object) -> bool:
    """Whether asking ``backend`` (a raw backend: by ``type()``, as a wrapper
    proxies the class of what it wraps) costs no request: a local disk, or
    memory."""
    return issubclass(type(backend), FileSystemStorage | InMemoryStorage)


def is_directory(layer: Any, name: str) -> bool:
    """Whether the local ``layer`` has a directory ``name`` (validated, relative)."""
    # A plain join is safe, and cheap.
    return os.path.isdir(os.path.join(layer.location, name))


def local_path(backend: Storage, name: str) -> str | None:
    """The path of ``name`` if ``backend`` (see :func:`serving_backend`) keeps it
    on local disk."""
    try:
        path = backend.path(name)
    except (NotImplementedError, AttributeError):
        return None
    return path if os.path.isfile(path) else None


def make_parent_directory(storage: Storage, name: str) -> None:
    """Create the directory of ``name`` in a local ``storage``, as its ``_save``
    would (honouring ``directory_permissions_mode``); a remote one needs none."""
    path = new_local_path(storage, name)
    if path is not None:
        make_directories(os.path.dirname(path), Modes.of(storage).directory)


def new_local_path(storage: Storage, name: str) -> str | None:
    try:
        return storage.path(name)
    except (NotImplementedError, AttributeError):
        return None


class FileSystemLister(Lister):
    """``FileSystemStorage``: ``os.scandir``, with sizes and modification times.

    Entries are what ``FileSystemStorage.listdir`` reports (a symbolic link to
    a directory is a directory); a file whose ``stat`` fails (a dangling link)
    is listed without a size. ``walk`` follows links to directories, but
    not round a loop. ``find`` costs one ``stat`` a name, and answers files only.
    """

    knows = frozenset({"size", "modified"})

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        directory = directory.strip("/")
        listing = Listing(directory)
        try:
            with os.scandir(self.backend.path(directory)) as entries:
                for item in entries:
                    if limit is not None and len(listing) >= limit:
                        return incomplete(listing)
                    if is_dir_entry(item):
                        listing.directories.append(item.name)
                    else:
                        listing.files[item.name] = entry_of(joined(directory, item.name), item)
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            return Listing(directory, not_a_directory=True)
        return listing

    def walk(self, directory: str = "") -> Iterator[Entry]:
        # Depth first, remembering the directories on the way down (device and
        # inode), so that a link back to one of them is not followed again.
        pending: list[tuple[str, frozenset[tuple[int, int]]]] = [
            (directory.strip("/"), frozenset())
        ]
        while pending:
            current, ancestors = pending.pop()
            path = self.backend.path(current)
            try:
                status = os.stat(path)
                identity = (status.st_dev, status.st_ino)
                if identity in ancestors:
                    continue  # a loop
                with os.scandir(path) as entries:
                    items = list(entries)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for item in items:
                name = joined(current, item.name)
                if is_dir_entry(item):
                    pending.append((name, ancestors | {identity}))
                else:
                    yield entry_of(name, item)

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        found: dict[str, Entry | None] = {}
        for name in names:
            try:
                status = os.stat(self.backend.path(name))
            except (FileNotFoundError, NotADirectoryError):
                found[name] = None
                continue
            found[name] = stat_entry(name, status) if stat.S_ISREG(status.st_mode) else None
        return found


class FileSystemKind(Kind):
    """``FileSystemStorage``: files with sizes and times; a directory exists."""

    directories_exist = True
    missing_methods = frozenset(
        {"size", "get_modified_time", "get_accessed_time", "get_created_time", "open", "_open"}
    )
    lister: FileSystemLister

    def own_answers(self, methods: set[str]) -> frozenset[str]:
        from django.core.files.storage import FileSystemStorage

        return own_methods(self.lister.backend, FileSystemStorage, methods)

    def sizeless_entry(self) -> int:
        return ASK  # a dangling link, or a file that could not be stat'ed

    def missing(self, method: str, name: str, not_a_directory: bool) -> BaseException:
        code = errno.ENOTDIR if not_a_directory else errno.ENOENT
        error = NotADirectoryError if not_a_directory else FileNotFoundError
        return error(code, os.strerror(code), self.lister.backend.path(name))


def is_dir_entry(item: os.DirEntry[str]) -> bool:
    try:
        return item.is_dir()
    except OSError:
        return False


def entry_of(name: str, item: os.DirEntry[str]) -> Entry:
    try:
        return stat_entry(name, item.stat())
    except OSError:
        return Entry(name)  # a dangling link: listed, as listdir() does, size unknown


def stat_entry(name: str, status: os.stat_result) -> Entry:
    modified = datetime.datetime.fromtimestamp(status.st_mtime, tz=datetime.UTC)
    return Entry(name, status.st_size, modified)
