"""Listing a backend's directories: what is there, in one request per 1,000 entries.

This is the one place that knows how each kind of backend lists. A *lister* is
a small strategy object for one backend instance; :func:`lister_for` picks it:

* :class:`S3Lister` for django-storages' ``S3Storage`` (and its subclasses):
  ``ListObjectsV2`` through the backend's own client, which keeps each
  entry's size, modification time and ETag;
* :class:`FileSystemLister` for ``FileSystemStorage``: ``os.scandir``, with
  each entry's size and modification time;
* :class:`ListdirLister` for any other backend: its ``listdir()``, which gives
  names only, so its entries answer existence and nothing else.

Every lister has the same three methods, each with one job:

* :meth:`~Lister.list` lists one directory's direct entries, optionally up to
  a cap (then the :class:`Listing` says it is incomplete);
* :meth:`~Lister.walk` yields every file under a directory, recursively;
* :meth:`~Lister.find` answers, for many names at once, which are files and
  what the listing knows of them: the batched existence check.

Names are as the storage takes them (relative to its root, ``/``-separated):
a lister honours the backend's ``location`` and its name normalisation, and
leaves out what no name can reach through the backend (an S3 key such as
``a//b``, directory markers ending in ``/``). Names are not validated here:
that is the caller's policy (``storage_mixins.names``).
"""

from __future__ import annotations

import builtins
import concurrent.futures
import contextvars
import datetime
import os
import stat
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import SuspiciousOperation

from .base import StorageWrapper
from .errors import is_not_found, not_found_types
from .recording import count_s3_requests

__all__ = [
    "PAGE_SIZE",
    "Entry",
    "FileSystemLister",
    "ListdirLister",
    "Lister",
    "Listing",
    "S3Lister",
    "lister_for",
    "s3_client",
]

# S3's page: at most 1,000 keys and common prefixes a ListObjectsV2 response.
PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Entry:
    """One file, as a listing describes it.

    ``name`` is its name in the storage. ``size`` (bytes), ``modified`` (an
    aware UTC datetime) and ``etag`` (S3's, without quotes) are ``None`` where
    the lister cannot tell: then only the file's existence is known.
    """

    name: str
    size: int | None = None
    modified: datetime.datetime | None = None
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The direct entries of one directory.

    ``files`` maps each file's base name to its :class:`Entry`; ``directories``
    holds the base names of subdirectories. ``complete`` is ``False`` when the
    lister stopped at the caller's cap: then a name absent from the listing
    may still exist. A directory that does not exist lists as empty;
    ``not_a_directory`` then says whether a part of its path is a file
    (:class:`FileSystemLister`), where a filesystem answers ``NotADirectoryError``
    rather than ``FileNotFoundError`` for the names in it.
    """

    directory: str
    files: dict[str, Entry] = field(default_factory=dict)
    directories: list[str] = field(default_factory=list)
    complete: bool = True
    not_a_directory: bool = False

    def __len__(self) -> int:
        return len(self.files) + len(self.directories)


class Lister:
    """Lists one backend. Subclasses implement the three methods for their kind."""

    #: Which of ``Entry.size``, ``Entry.modified``, ``Entry.etag`` this lister fills in.
    knows: frozenset[str] = frozenset()

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        from .labels import storage_label

        return f"{type(self).__name__}({storage_label(self.backend)})"

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        """The direct entries of ``directory``, at most ``limit`` of them (files
        and directories together) if given, in one request per 1,000 entries."""
        raise NotImplementedError

    def walk(self, directory: str = "") -> Iterator[Entry]:
        """Every file under ``directory``, at any depth, in no particular order."""
        raise NotImplementedError

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        """Each of ``names`` and its :class:`Entry` if it is a file, else ``None``
        (missing, or a directory). Names are grouped by directory, and each
        directory is listed at most once."""
        by_directory: dict[str, set[str]] = {}
        for name in names:
            by_directory.setdefault(_parent(name), set()).add(name)
        found: dict[str, Entry | None] = {}
        for directory, wanted in by_directory.items():
            files = self.list(directory).files
            for name in wanted:
                found[name] = files.get(_base(name))
        return found


class S3Lister(Lister):
    """``S3Storage``: ``ListObjectsV2``, keeping each key's Size, LastModified and ETag.

    Requests go through :func:`s3_client`, the backend's own client, which is
    thread-safe: a lister may be used from any thread. ``list`` uses ``Delimiter="/"``;
    ``walk`` uses none (one request per 1,000 keys of the whole subtree,
    however many directories it has). ``find`` starts each directory's
    listing just before the smallest name it still looks for
    (``StartAfter``), so a few names in a directory of 100,000 cost a few
    requests, not 100: never more than one per name, nor more than one per
    1,000 entries between the first and the last name; the directories of a
    batch are listed concurrently.
    """

    knows = frozenset({"size", "modified", "etag"})
    #: How many directories :meth:`find` lists at once.
    concurrency = 8

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        prefix = self._prefix(directory)
        listing = Listing(directory.strip("/"))
        token = None
        while True:
            room = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(listing))
            if room <= 0:
                return _incomplete(listing)
            page = self._page(prefix, delimiter=True, max_keys=room, token=token)
            for common in page.get("CommonPrefixes", ()):
                base = common["Prefix"][len(prefix) :].rstrip("/")
                if base and "/" not in base and base not in (".", ".."):
                    listing.directories.append(base)
            for entry in self._entries(page):
                listing.files[_base(entry.name)] = entry
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or token is None:
                return listing

    def walk(self, directory: str = "") -> Iterator[Entry]:
        prefix = self._prefix(directory)
        token = None
        while True:
            page = self._page(prefix, delimiter=False, max_keys=PAGE_SIZE, token=token)
            yield from self._entries(page)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or token is None:
                return

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        by_prefix: dict[str, dict[str, list[str]]] = {}
        for name in names:
            keys = by_prefix.setdefault(self._prefix(_parent(name)), {})
            keys.setdefault(self._key(name), []).append(name)  # "a/./b" and "a/b": one key
        found: dict[str, Entry | None] = {}
        if len(by_prefix) <= 1:
            for prefix, names_by_key in by_prefix.items():
                found.update(self._find_in(prefix, names_by_key))
            return found
        # Directories are listed concurrently: a batch of names in 50
        # directories costs about one round trip, not 50. Each in a copy of the
        # caller's context, where a recording counts its requests.
        workers = min(self.concurrency, len(by_prefix))
        with concurrent.futures.ThreadPoolExecutor(workers, "storage_mixins-find") as pool:
            batches = [
                pool.submit(contextvars.copy_context().run, self._find_in, prefix, names_by_key)
                for prefix, names_by_key in by_prefix.items()
            ]
            for batch in batches:
                found.update(batch.result())
        return found

    def _find_in(
        self,
        prefix: str,
        names_by_key: dict[str, builtins.list[str]],  # not self.list
    ) -> dict[str, Entry | None]:
        pending = sorted(names_by_key)  # S3 orders keys by UTF-8 bytes: code points
        found: dict[str, Entry | None] = {}
        index = 0
        token: str | None = None
        last: str | None = None  # the greatest key or prefix the last page reached
        while index < len(pending):
            jump = pending[index][:-1]  # the greatest string before the key, nearly
            if token is not None and last is not None and jump <= last:
                page = self._page(prefix, delimiter=True, max_keys=PAGE_SIZE, token=token)
            else:
                page = self._page(prefix, delimiter=True, max_keys=PAGE_SIZE, start_after=jump)
            keys = {entry["Key"]: entry for entry in page.get("Contents", ())}
            truncated = bool(page.get("IsTruncated")) and "NextContinuationToken" in page
            if truncated:
                reached = [*keys, *(p["Prefix"] for p in page.get("CommonPrefixes", ()))]
                last = max(reached) if reached else last
                token = page["NextContinuationToken"]
            while index < len(pending) and (
                not truncated or (last is not None and pending[index] <= last)
            ):
                key = pending[index]
                raw = keys.get(key)
                for name in names_by_key[key]:
                    found[name] = None if raw is None else _renamed(self._entry(raw), name)
                index += 1
        return found

    # -- the backend's names and keys ---------------------------------------

    def _key(self, name: str) -> str:
        from storages.utils import clean_name

        return str(self.backend._normalize_name(clean_name(name)))

    def _prefix(self, directory: str) -> str:
        prefix = self._key(directory)
        return prefix + "/" if prefix and not prefix.endswith("/") else prefix

    def _name(self, key: str) -> str | None:
        """The name that reaches ``key`` through the backend, if one does."""
        root = self._prefix("")
        if not key.startswith(root) or key.endswith("/"):
            return None
        name = key[len(root) :]
        try:
            return name if name and self._key(name) == key else None
        except SuspiciousOperation:  # e.g. "../x": a name the backend refuses reaches nothing
            return None

    def _entries(self, page: dict[str, Any]) -> Iterator[Entry]:
        for raw in page.get("Contents", ()):
            entry = self._entry(raw)
            if entry is not None:
                yield entry

    def _entry(self, raw: dict[str, Any]) -> Entry | None:
        name = self._name(raw["Key"])
        if name is None:
            return None
        return Entry(name, int(raw["Size"]), raw.get("LastModified"), _etag(raw.get("ETag")))

    def _page(
        self,
        prefix: str,
        *,
        delimiter: bool,
        max_keys: int,
        token: str | None = None,
        start_after: str | None = None,
    ) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "Bucket": self.backend.bucket_name,
            "Prefix": prefix,
            "MaxKeys": max_keys,
        }
        if delimiter:
            parameters["Delimiter"] = "/"
        if token is not None:
            parameters["ContinuationToken"] = token
        elif start_after and start_after > prefix:
            parameters["StartAfter"] = start_after
        response: dict[str, Any] = s3_client(self.backend).list_objects_v2(**parameters)
        return response


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
                        return _incomplete(listing)
                    if _is_dir(item):
                        listing.directories.append(item.name)
                    else:
                        listing.files[item.name] = _fs_entry(_join(directory, item.name), item)
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
                name = _join(current, item.name)
                if _is_dir(item):
                    pending.append((name, ancestors | {identity}))
                else:
                    yield _fs_entry(name, item)

    def find(self, names: Iterable[str]) -> dict[str, Entry | None]:
        found: dict[str, Entry | None] = {}
        for name in names:
            try:
                status = os.stat(self.backend.path(name))
            except (FileNotFoundError, NotADirectoryError):
                found[name] = None
                continue
            found[name] = _stat_entry(name, status) if stat.S_ISREG(status.st_mode) else None
        return found


class ListdirLister(Lister):
    """Any other backend: its ``listdir()``. Entries have names only."""

    def list(self, directory: str = "", *, limit: int | None = None) -> Listing:
        directory = directory.strip("/")
        try:
            directories, files = self.backend.listdir(directory)
        except not_found_types() as exc:
            if not is_not_found(exc):
                raise
            return Listing(directory)
        listing = Listing(directory)
        for base in directories:
            if limit is not None and len(listing) >= limit:
                return _incomplete(listing)
            listing.directories.append(base)
        for base in files:
            if limit is not None and len(listing) >= limit:
                return _incomplete(listing)
            listing.files[base] = Entry(_join(directory, base))
        return listing

    def walk(self, directory: str = "") -> Iterator[Entry]:
        pending = [directory.strip("/")]
        while pending:
            listing = self.list(pending.pop())
            yield from listing.files.values()
            pending.extend(_join(listing.directory, base) for base in listing.directories)


def lister_for(storage: Any) -> Lister:
    """The lister for ``storage``'s backend.

    Listing is a read, so single-storage wrappers (``ReadOnly``, ``Caching``,
    ``Logging``) are looked through to the backend they wrap; a ``Fallback``,
    whose directories are the union of its layers', is listed through its own
    ``listdir()``.
    """
    from .fallback import Fallback  # Fallback's modules may come to use listings

    backend = storage
    while isinstance(backend, StorageWrapper) and not isinstance(backend, Fallback):
        backend = backend.__wrapped__
    if isinstance(backend, StorageWrapper):  # a Fallback proxies a layer: isinstance lies
        return ListdirLister(backend)
    if _is_s3(backend):
        return S3Lister(backend)
    from django.core.files.storage import FileSystemStorage

    if isinstance(backend, FileSystemStorage):
        return FileSystemLister(backend)
    return ListdirLister(backend)


_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def s3_client(backend: Any) -> Any:
    """The boto3 client of an ``S3Storage``, one for every thread.

    django-storages builds a boto3 session and resource for each thread
    (``backend.connection``), since resources and sessions are not
    thread-safe; each costs tens of milliseconds and about 10 MiB. boto3's
    clients are thread-safe, so the client of the first thread's connection
    serves them all. It has the backend's configuration: its connection pool
    holds ``client_config.max_pool_connections`` (10 by default) connections.
    Its requests count in recordings (``storage_mixins.recording``), whichever
    thread made it.
    """
    with _clients_lock:
        client = _clients.get(backend)
        if client is None:
            client = _clients[backend] = backend.connection.meta.client
            # The thread that made it may never record: the connection it came
            # from is that thread's, which a recording elsewhere cannot reach.
            count_s3_requests(client)
    return client


def _is_s3(backend: Any) -> bool:
    from .streaming import is_s3  # streaming imports this module

    return is_s3(backend)


def _incomplete(listing: Listing) -> Listing:
    return Listing(listing.directory, listing.files, listing.directories, complete=False)


def _renamed(entry: Entry | None, name: str) -> Entry | None:
    if entry is None or entry.name == name:
        return entry
    return Entry(name, entry.size, entry.modified, entry.etag)


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _parent(name: str) -> str:
    return name.rpartition("/")[0]


def _base(name: str) -> str:
    return name.rpartition("/")[2]


def _join(directory: str, base: str) -> str:
    return f"{directory}/{base}" if directory else base


def _is_dir(item: os.DirEntry[str]) -> bool:
    try:
        return item.is_dir()
    except OSError:
        return False


def _fs_entry(name: str, item: os.DirEntry[str]) -> Entry:
    try:
        return _stat_entry(name, item.stat())
    except OSError:
        return Entry(name)  # a dangling link: listed, as listdir() does, size unknown


def _stat_entry(name: str, status: os.stat_result) -> Entry:
    modified = datetime.datetime.fromtimestamp(status.st_mtime, tz=datetime.UTC)
    return Entry(name, status.st_size, modified)
