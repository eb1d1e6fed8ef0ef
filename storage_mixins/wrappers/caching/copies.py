"""``Caching(contents=...)``: the local copies of a storage's files, and when
to read a file from one.

The first ``open(name, "rb")`` of a file that is not on local disk already
copies it into the contents storage (streamed, atomically, one download
however many threads ask). A copy stands for the *version* of the name it
was fetched at (a token that every write through any wrapper sharing the
cache replaces: see ``storage_mixins.services.contents_cache``), and is used
only while that version is current. Where the cache entry that vouches for
a copy has expired, the copy is still used if its version is, and its size
and modification time match the storage's. Files larger than
``max_content_size`` bytes are not copied: from an ``S3Storage`` they are
streamed in bounded memory. A placeholder (a file a layer makes up) is never
copied: it is read from that layer, which keeps it in memory.
"""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any, Final, cast

from django.core.files import File
from django.core.files.storage import Storage

from ...backends.local import local_path
from ...core.files import ReadOnlyFile
from ...core.names import canonical_name
from ...core.stack import invents_files
from ...services.contents_cache import ContentsCache
from ...services.metadata_cache import MetadataCache
from ...services.streaming import open_stream, open_streamed, serving_backend
from .reads import Reads, computed, within

__all__ = ["Copies"]

# What the cache may know of a name's copy, besides (size, modified, version):
# read it from the storage and keep no copy, because it is on local disk
# already, or because it is over max_content_size.
_FROM_STORAGE: Final = "from-storage"
_STREAMED: Final = "streamed"
# What a lookup answers, besides a copy's path and None (read from the storage).
_UNKNOWN = object()  # the cache says nothing: fetch
_TOO_LARGE = object()  # over max_content_size: stream it


class Copies:
    """The local copies of the files ``caching`` (the ``Caching`` wrapper) reads."""

    def __init__(
        self,
        caching: Storage,
        contents: ContentsCache,
        metadata: MetadataCache,
        reads: Reads,
        *,
        max_size: int | None,
        timeout: float | None,
        may_skip: bool,
    ) -> None:
        self.caching = caching
        self.contents = contents
        self.metadata = metadata
        self.reads = reads
        self.max_size = max_size
        self.timeout = timeout
        self.may_skip = may_skip

    def open(self, name: str, mode: str, method: str) -> File[Any]:
        """``caching``'s ``open`` or ``_open`` (``method``) of ``name`` for reading."""
        copy = self.local_copy(name)
        if copy is _TOO_LARGE and mode == "rb":
            streamed = open_streamed(self.reads.root(), name)
            if streamed is not None:  # S3File would hold the whole object in memory
                return streamed
        if not isinstance(copy, str):
            read: File[Any] = getattr(self.reads.get(), method)(name, mode)
            return read
        try:
            opened = open(copy, mode)  # noqa: SIM115 - the file is returned
        except FileNotFoundError:  # removed since: a newer version was stored, or a write
            fresh: File[Any] = getattr(self.reads.get(), method)(name, mode)
            return fresh
        reason = "it is a cached copy; write through the storage instead"
        return ReadOnlyFile(File(opened), self.caching, name, reason)

    def known_path(self, name: str) -> str | None:
        """The path of a copy of ``name`` the cache vouches for, without asking
        the storage anything; ``None`` if there is none."""
        path = canonical_name(name)
        if path is None:
            return None
        known, _seen, _version = self._cached(path)
        return known if isinstance(known, str) else None

    def local_copy(self, name: str) -> str | object | None:
        """The path of an up-to-date local copy of ``name``, fetched if needed;
        ``None`` when the file is best read from the storage itself (it is on
        local disk already, or its name is not cached), ``_TOO_LARGE`` when it is
        larger than ``max_size``."""
        path = canonical_name(name)
        if path is None:
            return None  # a name that is not cached (see canonical_name)
        copy, _seen, _version = self._cached(path)
        if copy is not _UNKNOWN:
            return copy
        with self.contents.single_flight(path):
            # Another thread may have fetched it meanwhile.
            copy, seen, version = self._cached(path)
            if copy is not _UNKNOWN:
                return copy
            return self._fetched(name, path, seen, version)

    def _fetched(self, name: str, path: str, seen: Any, version: str | None) -> str | object | None:
        metadata = self.metadata
        reservation = metadata.reserve("contents", path, seen)
        if version is None:  # a miss: the version now, read before anything is fetched
            version = reservation.token if reservation is not None else metadata.version(path)
            if version is not None and self.may_skip:
                # A layer may be skipped while the copy is made (its file
                # would be another layer's): a copy of its own, used only
                # through the entry of a read that skipped none.
                version = f"unversioned-{uuid.uuid4().hex}"
        # Which layer serves the file may come from listings, or be all a
        # stack could say with a layer down: kept no longer than they are.
        fetched: tuple[str | object | None, Any]
        fetched, complete, left = computed(
            functools.partial(self._copy_of, path=path, version=version),
            name,
            may_skip=self.may_skip,
        )
        copy, entry = fetched
        if complete:
            metadata.add(reservation, entry, within(self.timeout, left))
            if reservation is not None and type(entry) is tuple:
                # The version outlives the entry: the copy can be reused when
                # the entry expires if no write came meanwhile.
                metadata.keep_version(path)
        return copy

    def _copy_of(
        self, name: str, *, path: str, version: str | None
    ) -> tuple[str | object | None, Any]:
        """What to read ``name`` from (a copy's path, ``None`` or ``_TOO_LARGE``),
        fetching the copy of ``version`` if needed, and the ``contents`` entry
        that says so."""
        contents = self.contents
        backend = serving_backend(self.reads.root(), name)
        if invents_files(backend) or local_path(backend, name):
            return None, _FROM_STORAGE
        if self.max_size is not None and self.caching.size(name) > self.max_size:
            return _TOO_LARGE, _STREAMED
        if version is None:  # the cache failed: a copy of its own, never reused
            version = f"unversioned-{uuid.uuid4().hex}"
        elif os.path.isfile(contents.path(path, version)):  # this version's, expired
            size, modified = self.caching.size(name), self._modified_timestamp(name)
            if modified is not None and contents.matches(path, version, size, modified):
                return contents.path(path, version), (size, modified, version)
        # Where a layer may be skipped, through the stack's open, and so its
        # circuit breakers: a layer that is down is skipped, not raised.
        stream = open_stream(self.reads.get(), name, backend, through=self.may_skip)
        modified = stream.modified.timestamp() if stream.modified else None
        if modified is None:
            modified = self._modified_timestamp(name)
        copy = contents.store(path, version, stream.chunks, modified)
        return copy, (os.stat(copy).st_size, modified, version)

    def _cached(self, path: str) -> tuple[str | object | None, Any, str | None]:
        """What the cache knows: a copy's path, ``None`` (read from the storage),
        ``_TOO_LARGE`` or ``_UNKNOWN``; for a miss, what the cache saw (for
        ``reserve``); and for a hit whose copy is not on this disk, the version
        to fetch it as (the entry's: no write came since it was stored)."""
        hit, entry = self.metadata.get("contents", path)
        if not hit:
            return _UNKNOWN, entry, None
        if entry == _FROM_STORAGE:
            return None, None, None
        if entry == _STREAMED:
            return _TOO_LARGE, None, None
        if type(entry) is not tuple or len(entry) != 3:
            return _UNKNOWN, None, None  # an entry of an older release: fetch, uncached
        size, modified, version = cast("tuple[int, float | None, str]", entry)
        if self.contents.matches(path, version, size, modified):
            return self.contents.path(path, version), None, None
        return _UNKNOWN, None, version

    def _modified_timestamp(self, name: str) -> float | None:
        try:
            return self.caching.get_modified_time(name).timestamp()
        except NotImplementedError:
            return None
