"""``Caching``: remove the round-trips that make remote storages slow.

Metadata (``exists``, ``size``, ``get_*_time``, ``listdir``, ``url``) is kept in
a Django cache, so a Redis or Memcached cache shares it between processes and
machines (see ``storage_mixins.metadata_cache`` for how invalidation stays
coherent). A directory's listing answers for all its files, in one request
(see ``storage_mixins.listing_cache``, which states when a directory is listed
and when files are asked about one by one). Optionally, file contents are
copied to a local directory on first read and served from there (see
``storage_mixins.contents_cache``).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
import posixpath
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any, Self, TypeVar, cast

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage

from .base import StorageWrapper, contains, is_read_only
from .contents_cache import ContentsCache
from .failover import GuardedLayer, watching_skips
from .fallback import Fallback
from .labels import storage_identity, storage_label
from .listed_reader import ListedReader
from .listing_cache import LISTING_LIMIT, LayerListings, wants_listing, watching_listings
from .metadata_cache import _MISSING, MAX_LISTED_LAYERS, MetadataCache
from .overlay import WriteLayerView, hearing_writes
from .readonly import ReadOnlyFile, _FileProxy, checked_mode, is_write_mode
from .resolve import StorageSpec, resolve_storage
from .signed_urls import seconds_left
from .streaming import local_path, open_stream, open_streamed, serving_backend

# A fact a storage answers (a size, a listing…), as cached.
_Fact = TypeVar("_Fact")

__all__ = ["Caching"]


class Caching(StorageWrapper):
    """Cache what ``storage`` says about its files, and optionally the files.

    Cached, in the Django cache ``cache`` (an alias in ``CACHES``) for
    ``timeout`` seconds: ``exists`` (a ``False`` answer for ``missing_timeout``
    seconds, by default ``timeout``), ``size``, ``get_accessed_time``,
    ``get_created_time``, ``get_modified_time``, ``listdir`` and ``url``.
    A signed URL is kept for at most half the time it has left; ``url()`` with
    extra arguments is never cached. Times are kept in UTC and returned as
    the storage returns them under the current ``USE_TZ`` (aware, or naive
    local time). Entries are namespaced by the wrapped
    storage's identity (its class, bucket, location…; for a local disk, the
    machine and filesystem that hold it), or by ``key_prefix``: see
    docs/caching.rst, "How the namespace is made".

    With ``listings`` (``"auto"``, the default: the directories of an
    ``S3Storage``; ``True``: every backend's; ``False``: none), a fact that is
    not cached is answered from the cached listing of the file's directory,
    listed in one request per 1,000 entries if need be: ``exists`` (a miss
    too), ``size``, ``get_modified_time``, and so which layer of a
    ``Fallback`` inside serves ``url()``, ``path()`` and ``open()``. A
    directory of more than ``listing_limit`` entries is asked about file by
    file. Listings are facts like the others, fenced by every write below
    them; a listing that fails falls back to asking per file. The policy, in
    full: ``storage_mixins.listing_cache``.

    Every write through the wrapper (``save``, ``_save``, ``delete``, and
    write-mode ``open`` when it opens and when it closes) invalidates what is
    cached about that name, and the existence, listings, sizes and times of
    the directories above it, before it returns, and also when it raises (it
    may have written part of a file), in every process that shares the
    cache (listings included); those facts then stay uncached for
    ``FENCE_SECONDS``. Evictions cannot bring a stale answer back, and an
    invalidation the cache missed while it was down is replayed when it
    answers again: see ``storage_mixins.metadata_cache`` for how, and for the
    exact limits.
    Absolute names, names with a trailing slash and names with a ``..``
    part, whose meaning is the storage's, are not cached. Writes that bypass
    the wrapper are seen when their entries expire, or after
    :meth:`invalidate`.

    With ``contents`` (a storage, or alias, with local paths), the first
    ``open(name, "rb")`` of a file that is not already on local disk copies it
    there (streamed, atomically, one download however many threads ask), and
    later opens, and ``path()``, use the copy without asking ``storage``
    anything until its entry expires; then size and modification time are
    compared before the copy is reused. A copy stands for the version of the
    name it was fetched at, which every write through any wrapper sharing the
    cache replaces (see ``storage_mixins.contents_cache``): it is never taken
    for a file rewritten since. Files larger than ``max_content_size``
    bytes are read from ``storage`` and not kept; from an ``S3Storage`` they
    are streamed from the response body in bounded memory (``S3File`` would
    hold the whole object in memory), seeking with ranged requests. Files
    opened from the copy, or streamed, cannot be reopened for writing.

    If the cache backend fails, calls go to ``storage`` uncached, and a
    warning is logged once per outage. Nothing about ``storage`` is read when
    the wrapper is built: its identity is worked out at the first call, and
    its ``base_url`` only in ``url()``. An answer that a ``Fallback(...,
    on_error="skip")`` inside gave without a layer that was down is returned
    but not cached.
    """

    def __init__(
        self,
        storage: StorageSpec,
        *,
        cache: str = "default",
        timeout: float | None = 300,
        missing_timeout: float | None = None,
        contents: StorageSpec | None = None,
        max_content_size: int | None = None,
        key_prefix: str | None = None,
        listings: bool | str = "auto",
        listing_limit: int = LISTING_LIMIT,
    ) -> None:
        super().__init__(storage)
        caches[cache]
        if listings not in (True, False, "auto"):
            raise ImproperlyConfigured(f'listings must be True, False or "auto", not {listings!r}')
        if isinstance(listing_limit, bool) or not isinstance(listing_limit, int) or (
                listing_limit < 1):  # fmt: skip
            raise ImproperlyConfigured(
                f"listing_limit must be a number of entries (1 or more), not {listing_limit!r}"
            )
        # The namespace is worked out at the first call, not here: it reads
        # attributes (FileSystemStorage.location, from MEDIA_ROOT) that Django
        # itself evaluates lazily, and a wrapper may be built at import time.
        # It is worked out again when a setting or an identity attribute
        # changes (metadata_cache.forget_namespaces).
        namespace = key_prefix or functools.partial(_namespace_of, self.__wrapped__)
        # Over a whole stack, each layer's listings are facts of their own,
        # which every write fences, whether this process lists or not.
        wrapped = self.__wrapped__
        stack = cast(Fallback, wrapped) if issubclass(type(wrapped), Fallback) else None
        layers = 1 if stack is None else len(stack.layers)
        self._self_metadata = metadata = MetadataCache(
            _CacheAlias(cache), namespace, timeout, layers=layers
        )
        self._self_hot = _HotPath(self, metadata)
        self._self_stack = stack
        self._self_listings_option = listings
        self._self_listing_limit = listing_limit
        self._self_reads: Any = None  # what reads go through: see _reads()
        self._self_layer_listings: tuple[LayerListings | None, ...] = ()
        self._self_reads_lock = threading.Lock()
        self._self_timeout = timeout
        self._self_missing_timeout = timeout if missing_timeout is None else missing_timeout
        self._self_contents = (
            None
            if contents is None
            else ContentsCache(
                resolve_storage(contents, owner="Caching"), lambda: metadata.namespace
            )
        )
        self._self_max_content_size = max_content_size
        # A stack that skips layers that are down answers without them then:
        # such answers are returned but not remembered.
        self._self_may_skip = contains(
            self.__wrapped__, lambda storage: getattr(storage, "on_error", None) == "skip"
        )
        self._bind_hot_paths(Caching, exists=self._self_hot.exists)

    @property
    def cache_alias(self) -> str:
        """The alias, in ``CACHES``, of the cache that holds the metadata."""
        alias: str = self._self_metadata.cache.alias  # a _CacheAlias
        return alias

    def _describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        options = [f"cache={self.cache_alias!r}", f"timeout={self._self_timeout}"]
        if self._self_missing_timeout != self._self_timeout:
            options.append(f"missing_timeout={self._self_missing_timeout}")
        if self._self_contents is not None:
            options.append(f"contents={storage_label(self._self_contents.storage)}")
        if self._self_max_content_size is not None:
            options.append(f"max_content_size={self._self_max_content_size}")
        options.extend(self._describe_listings())
        return f"Caching  ({', '.join(options)})", [("", self.__wrapped__, "")]

    def _describe_listings(self) -> list[str]:
        option = self._self_listings_option
        if option is False:
            return ["listings=False"]
        self._reads()
        listed = self._self_layer_listings
        if not any(listed):
            return [] if option == "auto" else [f"listings={option!r}: none listable"]
        limit = f"≤ {self._self_listing_limit:,} entries"
        if self._self_stack is None:
            assert listed[0] is not None
            return [f"listings: {listed[0].describe()}, {limit}"]
        layers = ", ".join(
            f"[{position}] {listings.describe()}"
            for position, listings in enumerate(listed)
            if listings is not None
        )
        return [f"listings: {layers}, {limit}"]

    # -- cached metadata -----------------------------------------------------

    def exists(self, name: str) -> bool:
        return self._self_hot.exists(name)  # also bound on the instance: see __init__

    def _exists_slowly(self, name: str) -> bool:
        path = _canonical(name)
        if path is None:
            return self.__wrapped__.exists(name)  # not cached: see _canonical
        hot = self._self_hot
        entry = hot.metadata.entry(hot.exists_key(name, path))
        if entry.__class__ is tuple:
            found: bool = entry[0]
            return found
        return self._exists_missed(name, path, entry)

    def _exists_missed(self, name: str, path: str, seen: Any) -> bool:
        metadata = self._self_metadata
        reservation = metadata.reserve("exists", path, seen)
        found, complete, left = self._computed(self._exists_of, name)
        if complete:
            metadata.add(reservation, found, _within(self._exists_timeout(found), left))
        return found

    def size(self, name: str) -> int:
        return self._remembered("size", name, _canonical(name), self._size_of)

    def get_accessed_time(self, name: str) -> datetime.datetime:
        return self._remembered_time("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime.datetime:
        return self._remembered_time("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._remembered_time("get_modified_time", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        directories, files = self._remembered(
            "listdir", path, _canonical_directory(path), self.__wrapped__.listdir
        )
        return list(directories), list(files)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        if args or kwargs or name is None:  # made to measure, or the root's: not shared
            answer: str = self._reads().url(name, *args, **kwargs)
            return answer
        # Kept with the base URL it was made with, which is not part of the
        # namespace: reading it forces a lazy base_url (reverse_lazy), which
        # Django does only in url(). Storages of one location but different
        # base URLs then share every fact but this one.
        base_url = _base_url_of(self.__wrapped__)
        made_with, url = self._remembered(
            "url", name, _canonical(name), self._url_made_with, self._url_timeout
        )
        if made_with != base_url:
            fresh: str = self._reads().url(name)
            return fresh
        return url

    def _url_made_with(self, name: str) -> tuple[str | None, str]:
        # The layer that serves the file (in a Fallback) is asked through the
        # listings, if any; the URL is that layer's own.
        return _base_url_of(self.__wrapped__), self._reads().url(name)

    # -- contents ------------------------------------------------------------

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)  # what decides invalidation is what is passed on
        if self._self_contents is None and mode == "rb":
            file: File[Any] = self._reads().open(name, mode)  # nothing to cache or invalidate
            return file
        return self._opened(name, mode, "open")

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        return self._opened(name, mode, "_open")

    def path(self, name: str) -> str:
        canonical = _canonical(name)
        if self._self_contents is not None and canonical is not None:
            known, _seen, _version = self._fresh_copy(canonical)
            if isinstance(known, str):
                return known  # a local copy, without asking the storage
        try:
            found: str = self._reads().path(name)  # a Fallback probes its layers by listings
            return found
        except NotImplementedError as no_path:
            if self._self_contents is None:
                raise
            refusal = no_path
        copy = self._local_copy(name)
        if isinstance(copy, str):
            return copy
        limit = self._self_max_content_size
        if limit is not None and self.size(name) > limit:
            raise NotImplementedError(
                f"{name!r} is larger than max_content_size={limit}, so it has no local copy"
            ) from refusal
        raise refusal  # read from the storage itself (it is on local disk already)

    # -- writes ----------------------------------------------------------------

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        try:
            saved = self.__wrapped__.save(name, content, max_length=max_length)
        except BaseException:
            # Part of the file may be written (ENOSPC, a broken connection).
            self._invalidate_after_failure(
                name if name is not None else getattr(content, "name", None)
            )
            raise
        self._invalidate(saved)
        return saved

    def _save(self, name: str, content: File[Any]) -> str:
        try:
            saved: str = self.__wrapped__._save(name, content)  # type: ignore[attr-defined]  # django-stubs lack _save
        except BaseException:
            self._invalidate_after_failure(name)
            raise
        self._invalidate(saved)
        return saved

    def delete(self, name: str) -> None:
        try:
            self.__wrapped__.delete(name)
        finally:
            self._invalidate(name)

    # Staticfiles storages write from these (collectstatic's hashed copies and
    # manifest), with the storage itself as ``self``, past this wrapper: run
    # so that each write is forgotten as it is made. Present only where the
    # storage has them (collectstatic asks hasattr()).
    @property
    def post_process(self) -> Callable[..., Iterator[Any]]:
        method = self._own_writer("post_process")

        def post_process(*args: Any, **kwargs: Any) -> Iterator[Any]:
            # Heard only while its code runs, not while the caller holds a
            # yielded item: two of these may be iterated in turns.
            with hearing_writes(self._invalidate):
                processing = iter(method(*args, **kwargs))
            try:
                while True:
                    with hearing_writes(self._invalidate):
                        processed = next(processing, _DONE)
                    if processed is _DONE:
                        return
                    # (name, hashed_name, processed): the hashed file was written
                    # (heard already, unless a wrapper below hides its writes).
                    if isinstance(processed, tuple) and len(processed) > 1:
                        self._invalidate_after_failure(processed[1])
                    yield processed
            finally:
                close = getattr(processing, "close", None)
                if close is not None:  # stopped early: let it finish its own way
                    with hearing_writes(self._invalidate):
                        close()

        return post_process

    @property
    def save_manifest(self) -> Callable[..., Any]:
        method = self._own_writer("save_manifest")

        def save_manifest(*args: Any, **kwargs: Any) -> Any:
            with hearing_writes(self._invalidate):
                return method(*args, **kwargs)

        return save_manifest

    def _own_writer(self, method: str) -> Callable[..., Any]:
        """The storage's own ``method``, whose writes are heard (see
        ``overlay.hearing_writes``): a stack (or a read-only storage) runs it
        its own way, over a view of its write layer that reports them (or
        refuses it); anything else runs the backend's code with a view of
        the storage as ``self``, whose writes go through the storage and are
        reported."""
        wrapped = self.__wrapped__
        own: Callable[..., Any] = getattr(wrapped, method)  # AttributeError if it has none
        if is_read_only(wrapped) or contains(wrapped, _is_a_stack):
            return own
        function = getattr(type(_backend_of(wrapped)), method)
        bound: Callable[..., Any] = function.__get__(WriteLayerView(wrapped, None))
        return bound

    # -- internals ---------------------------------------------------------------

    def _remembered(
        self,
        fact: str,
        name: str,
        path: str | None,
        compute: Callable[[str], _Fact],
        timeout_for: Callable[[_Fact], float | None] | None = None,
    ) -> _Fact:
        """``compute(name)``, cached as ``fact`` of ``path`` (``None``: not cached)."""
        if path is None:
            return compute(name)
        metadata = self._self_metadata
        value: _Fact  # what compute() gave, when the cache has it
        hit, value = metadata.get(fact, path)
        if hit:
            return value
        reservation = metadata.reserve(fact, path, value)
        value, complete, left = self._computed(compute, name)
        if complete:
            timeout = self._self_timeout if timeout_for is None else timeout_for(value)
            metadata.add(reservation, value, _within(timeout, left))
        return value

    def _remembered_time(self, fact: str, name: str) -> datetime.datetime:
        """A time fact, kept in UTC and given as Django's storages give it now:
        aware if ``USE_TZ``, naive local time otherwise (the setting may have
        changed since the answer was cached)."""
        return _as_storages_give(
            self._remembered(fact, name, _canonical(name), lambda n: self._time_of(fact, n))
        )

    def _time_of(self, fact: str, name: str) -> datetime.datetime:
        time: datetime.datetime = getattr(self._reads(), fact)(name)
        return _in_utc(time)

    def _size_of(self, name: str) -> int:
        size: int = self._reads().size(name)
        return size

    def _exists_of(self, name: str) -> bool:
        found: bool = self._reads().exists(name)
        return found

    def _serving_backend(self, name: str) -> Any:
        """The backend that reads of ``name`` reach: through a stack, found by
        asking its layers through the listings, if any."""
        return serving_backend(self._serving_root(), name)

    def _serving_root(self) -> Any:
        return self.__wrapped__ if self._self_stack is None else self._reads()

    def _reads(self) -> Any:
        """What this wrapper's reads of the storage go through: the storage; or,
        with listings, a reader that answers from them (see listing_cache),
        and for a Fallback, a view of it whose layers are read so. Worked out
        at the first read: the layers' kinds are read then."""
        reads = self._self_reads
        if reads is None:
            with self._self_reads_lock:
                reads = self._self_reads
                if reads is None:
                    reads = self._self_reads = self._build_reads()
        return reads

    def _build_reads(self) -> Any:
        option = self._self_listings_option
        stack = self._self_stack
        layers = (self.__wrapped__,) if stack is None else stack.layers
        listings = tuple(
            LayerListings(
                self._self_metadata,
                position,
                layer,
                limit=self._self_listing_limit,
                timeout=self._self_timeout,
                missing_timeout=self._self_missing_timeout,
                canonical=_canonical,
            )
            if position < MAX_LISTED_LAYERS and wants_listing(option, layer)
            else None
            for position, layer in enumerate(layers)
        )
        self._self_layer_listings = listings
        if not any(listings):
            return self.__wrapped__
        if stack is None:
            assert listings[0] is not None
            return ListedReader(self.__wrapped__, listings[0])

        def listed(position: int, _layer: Any, reader: Any) -> Any:
            layer_listings = listings[position]
            if layer_listings is None:
                return reader
            if isinstance(reader, GuardedLayer):  # on_error="skip": listing goes through
                layer_listings.breaker = reader.breaker  # the layer's breaker too
            return ListedReader(reader, layer_listings)

        return stack.reading_through(listed)

    def _computed(
        self, compute: Callable[[str], _Fact], name: str
    ) -> tuple[_Fact, bool, float | None]:
        """``compute(name)``; whether every layer took part in the answer; and
        for how long, at most, it may be kept (``None``: no limit), which is
        what is left of the listings it was taken from."""
        with watching_listings() as listings:
            if not self._self_may_skip:
                return compute(name), True, listings.seconds_left()
            with watching_skips() as skipped:
                value = compute(name)
        return value, not skipped, listings.seconds_left()

    def _exists_timeout(self, found: bool) -> float | None:
        return self._self_timeout if found else self._self_missing_timeout

    def _url_timeout(self, entry: tuple[str | None, str]) -> float | None:
        left = seconds_left(entry[1])
        if left is None:
            return self._self_timeout
        lifetime = left / 2
        if lifetime < 1:
            return 0  # about to expire, or expiry unknown: do not cache
        return lifetime if self._self_timeout is None else min(self._self_timeout, lifetime)

    def invalidate(self, name: str) -> None:
        """Forget what is cached about ``name`` (and the listings above it), in
        every process: for writes made without going through this wrapper."""
        self._invalidate(name)

    def _invalidate(self, name: str) -> None:
        for path in self._paths_written(name):
            self._self_metadata.invalidate(path)
            if self._self_contents is not None:
                self._self_contents.discard(path)

    def _paths_written(self, name: str) -> list[str]:
        """The cached paths that a write to ``name`` may change.

        Names that are not cached (absolute, or with a trailing slash: see
        :func:`_canonical`) still name a file that is: the name without its
        slashes (what S3 writes), and for a storage on local disk the name
        relative to its location (``FileSystemStorage.delete("/srv/media/a")``
        deletes ``a``). Invalidating both is safe whichever the storage meant.
        """
        path = _canonical(name)
        if path is not None:
            return [path]
        text = str(name)
        paths = [_canonical_directory(text.lstrip("/")) or ""]
        location = getattr(self.__wrapped__, "location", None)
        if text.startswith("/") and isinstance(location, str) and os.path.isabs(location):
            absolute, root = os.path.normpath(text), os.path.normpath(location)
            if absolute == root:
                paths.append("")
            elif absolute.startswith(root.rstrip(os.sep) + os.sep):
                paths.append(absolute[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/"))
        return list(dict.fromkeys(paths))

    def _invalidate_after_failure(self, name: Any) -> None:
        """Invalidate ``name`` after a write that raised, which may have changed
        it (and the listings above it) anyway. A save that raised may have
        written under another name that the storage chose (``a_x7Gq2.txt``),
        which it did not return: the listings above it are invalidated, and so
        is the name asked for."""
        if isinstance(name, str) and name:
            self._invalidate(name)

    def _opened(self, name: str, mode: str, method: str) -> File[Any]:
        """``open`` or ``_open`` (``method``) of ``name`` in ``mode``."""
        if is_write_mode(mode):
            self._invalidate(name)
            try:
                file = getattr(self.__wrapped__, method)(name, mode)
            except BaseException:
                self._invalidate(name)  # it may have created or truncated the file
                raise
            return _InvalidatingFile(file, self, name)
        copy = None if self._self_contents is None else self._local_copy(name)
        if copy is _TOO_LARGE and mode == "rb":
            streamed = open_streamed(self._serving_root(), name)
            if streamed is not None:  # S3File would hold the whole object in memory
                return streamed
        if copy is None or copy is _TOO_LARGE:
            read: File[Any] = getattr(self._reads(), method)(name, mode)
            return read
        try:
            opened = open(cast("str", copy), mode)  # noqa: SIM115 - the file is returned
        except FileNotFoundError:  # removed since: a newer version was stored, or a write
            fresh: File[Any] = getattr(self._reads(), method)(name, mode)
            return fresh
        reason = "it is a cached copy; write through the storage instead"
        return ReadOnlyFile(File(opened), self, name, reason)

    def _local_copy(self, name: str) -> str | object | None:
        """The path of an up-to-date local copy of ``name``, fetched if needed;
        ``None`` when the file is best read from the storage itself (it is on
        local disk already), ``_TOO_LARGE`` when it is larger than
        ``max_content_size``. A copy is named by the version of the name
        (see ``storage_mixins.contents_cache``), and reused only while that
        version is current."""
        contents = self._self_contents
        assert contents is not None
        path = _canonical(name)
        if path is None:
            return None  # a name that is not cached (see _canonical)
        copy, _seen, _version = self._fresh_copy(path)
        if copy is not _UNKNOWN:
            return copy
        metadata = self._self_metadata
        with contents.single_flight(path):
            # Another thread may have fetched it meanwhile.
            copy, seen, version = self._fresh_copy(path)
            if copy is not _UNKNOWN:
                return copy
            reservation = metadata.reserve("contents", path, seen)
            if version is None:  # a miss: the version now, read before anything is fetched
                version = reservation.token if reservation is not None else metadata.version(path)
                if version is not None and self._self_may_skip:
                    # A layer may be skipped while the copy is made (its file
                    # would be another layer's): a copy of its own, used only
                    # through the entry of a read that skipped none.
                    version = f"unversioned-{uuid.uuid4().hex}"
            # Which layer serves the file may come from listings, or be all a
            # stack could say with a layer down: kept no longer than they are.
            fetched: tuple[str | object | None, Any]
            fetched, complete, left = self._computed(
                functools.partial(self._copy_of, path=path, version=version), name
            )
            copy, entry = fetched
            if complete:
                metadata.add(reservation, entry, _within(self._self_timeout, left))
                if reservation is not None and type(entry) is tuple:
                    # The version outlives the entry: the copy can be reused
                    # when the entry expires if no write came meanwhile.
                    metadata.keep_version(path)
            return copy

    def _copy_of(
        self, name: str, *, path: str, version: str | None
    ) -> tuple[str | object | None, Any]:
        """For :meth:`_local_copy`: what to read ``name`` from (a copy's path,
        ``None`` or ``_TOO_LARGE``), fetching the copy of ``version`` if
        needed, and the ``contents`` entry that says so."""
        contents = self._self_contents
        assert contents is not None
        backend = self._serving_backend(name)
        limit = self._self_max_content_size
        if local_path(backend, name):
            return None, _FROM_STORAGE
        if limit is not None and self.size(name) > limit:
            return _TOO_LARGE, _STREAMED
        if version is None:  # the cache failed: a copy of its own, never reused
            version = f"unversioned-{uuid.uuid4().hex}"
        elif os.path.isfile(contents.path(path, version)):  # this version's, expired
            size, modified = self.size(name), self._modified_timestamp(name)
            if modified is not None and contents.matches(path, version, size, modified):
                return contents.path(path, version), (size, modified, version)
        stream = open_stream(self._reads(), name, backend)
        modified = stream.modified.timestamp() if stream.modified else None
        if modified is None:
            modified = self._modified_timestamp(name)
        copy = contents.store(path, version, stream.chunks, modified)
        return copy, (_file_size(copy), modified, version)

    def _fresh_copy(self, path: str) -> tuple[str | object | None, Any, str | None]:
        """What the cache knows: a copy's path, ``None`` (read from the storage),
        or ``_UNKNOWN``; for a miss, what the cache saw (for ``reserve``); and
        for a hit whose copy is not on this disk, the version to fetch it as
        (the entry's: no write came since it was stored)."""
        hit, entry = self._self_metadata.get("contents", path)
        if not hit:
            return _UNKNOWN, entry, None
        if entry == _FROM_STORAGE:
            return None, None, None
        if entry == _STREAMED:
            return _TOO_LARGE, None, None
        if type(entry) is not tuple or len(entry) != 3:
            return _UNKNOWN, None, None  # an entry of an older release: fetch, uncached
        contents = self._self_contents
        assert contents is not None
        size, modified, version = entry
        if contents.matches(path, version, size, modified):
            return contents.path(path, version), None, None
        return _UNKNOWN, None, version

    def _modified_timestamp(self, name: str) -> float | None:
        try:
            return self.get_modified_time(name).timestamp()
        except NotImplementedError:
            return None


_UNKNOWN = object()
_TOO_LARGE = object()
_DONE = object()  # an iterator's end
# Cached "contents" facts: read this file from the storage, keep no copy,
# because it is on local disk already, or because it is over max_content_size.
_FROM_STORAGE = "from-storage"
_STREAMED = "streamed"


class _HotPath:
    """The hottest path, a cached ``exists()``, and what it needs, in one plain
    object: each attribute read on a proxy costs more than a dict lookup."""

    __slots__ = ("cache", "caching", "exists_keys", "metadata")
    _MEMO_SIZE = 8192

    def __init__(self, caching: Caching, metadata: MetadataCache) -> None:
        self.caching = caching
        self.metadata = metadata
        self.cache = metadata.cache
        # A name as given -> its exists key (emptied when the namespace changes).
        self.exists_keys: dict[Any, str] = metadata.key_memo

    def __reduce__(self) -> tuple[Any, ...]:
        # What pickles (and copies) caching.exists: the wrapper's, rebuilt.
        return getattr, (self.caching, "_self_hot")

    def exists(self, name: Any) -> bool:
        """``Caching.exists()``, bound on the wrapper's proxy: the name's key from
        a memo, one get, and MetadataCache.entry inlined down to its check, after
        the get, that nothing waits to be replayed. Anything else takes the
        full path."""
        key = self.exists_keys.get(name)
        if key is not None:
            try:
                entry = self.cache.current.get(key, _MISSING)
            except Exception:  # noqa: BLE001 - the full path reports it
                entry = None
            if entry.__class__ is tuple and not self.metadata._unsettled:
                found: bool = entry[0]  # what a miss below stored
                return found
        return self.caching._exists_slowly(name)

    def exists_key(self, name: Any, path: str) -> str:
        key = self.metadata.key("exists", path)
        keys = self.exists_keys
        if len(keys) >= self._MEMO_SIZE:
            keys.clear()  # pages ask about the same few names: start again
        keys[name] = key
        return key


class _CacheAlias(threading.local):
    """A Django cache, by alias, looked up once per thread: Django gives each
    thread its own cache object, and its lookup costs more than a cache hit.
    ``current`` is this thread's (``threading.local`` runs ``__init__`` again
    in each thread that reads it)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.current = caches[alias]

    def __repr__(self) -> str:
        return f"caches[{self.alias!r}]"


class _InvalidatingFile(_FileProxy):
    """A file opened for writing through :class:`Caching`: closing it invalidates."""

    def __init__(self, file: File[Any], caching: Caching, name: str) -> None:
        super().__init__(file)
        self._self_caching = caching
        self._self_name = name

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_caching._invalidate(self._self_name)

    def __enter__(self) -> Self:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Any:
        return iter(self.__wrapped__)


@functools.lru_cache(maxsize=8192)
def _canonical(path: str | None) -> str | None:
    """One spelling per file, so that ``a/./b`` and ``a//b`` share entries; or
    ``None`` for a name whose meaning only the storage knows, which is not
    cached at all.

    Such names are the absolute ones, those with a trailing slash, and those
    with a backslash, which S3 (and ``Fallback.url()``) read as a slash and a
    filesystem does not, and those with a ``..`` part.
    ``FileSystemStorage`` reads ``/srv/media/a.txt`` as ``a.txt`` (under its
    location) and refuses any other absolute name, while S3 reads ``/a.txt`` as
    ``a.txt``; ``a/`` is ``a`` on a filesystem but another key on S3. Django's
    own ``save`` and ``Fallback`` refuse them; collectstatic asks
    ``exists(location)`` and ``listdir(location)`` once a run. ``a/../b`` is
    ``b`` to the raw backends and refused by a ``Fallback``. Caching them
    would save nothing, and any shared key would be wrong for one backend.
    ``None`` (``url(None)``, the root) is not cached either: ``str()`` would
    make it the file ``"None"``.
    """
    if path is None:
        return None
    path = str(path)
    if path in ("", "."):
        return ""
    if _already_canonical(path):
        return path  # the common case, without normpath's cost
    if path[0] == "/" or path[-1] == "/" or "\\" in path or ".." in path.split("/"):
        return None
    normal = posixpath.normpath(path)
    return "" if normal == "." else normal


def _canonical_directory(path: str) -> str | None:
    """:func:`_canonical` for ``listdir``, where ``photos/`` is ``photos`` for
    every backend."""
    text = str(path)
    if text[-1:] == "/" and text[:1] != "/":
        text = text.rstrip("/") or "/"
    return _canonical(text)


def _already_canonical(path: str) -> bool:
    """Whether normpath would leave ``path`` as it is (a sufficient test)."""
    return not (
        path[0] == "/"
        or path[-1] == "/"
        or "//" in path
        or "/./" in path
        or path.startswith("./")
        or path.endswith("/.")
        or ".." in path
        or "\\" in path
    )


def _within(timeout: float | None, left: float | None) -> float | None:
    """``timeout``, cut to what is ``left`` of the listings an answer came from."""
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


def _in_utc(value: _Fact) -> _Fact:
    """An aware UTC datetime for a storage's answer (naive means local time, as
    storages answer with ``USE_TZ = False``); anything else as it is."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC)
    return value


def _as_storages_give(value: _Fact) -> _Fact:
    """A cached time as Django's own storages would give it under the current
    ``USE_TZ``: aware (UTC), or naive in the local time zone, which is
    ``FileSystemStorage``'s ``datetime.fromtimestamp(...)``."""
    if not isinstance(value, datetime.datetime):
        return value
    if settings.USE_TZ:
        return value if value.tzinfo is not None else value.astimezone(datetime.UTC)
    return value.astimezone().replace(tzinfo=None) if value.tzinfo is not None else value


def _namespace_of(storage: Any) -> str:
    return hashlib.blake2b(storage_identity(storage).encode(), digest_size=8).hexdigest()


def _is_a_stack(storage: object) -> bool:
    return issubclass(type(storage), Fallback)  # isinstance() sees what a proxy wraps


def _backend_of(storage: Any) -> Any:
    while isinstance(storage, StorageWrapper):
        storage = storage.__wrapped__
    return storage


def _base_url_of(storage: Storage) -> str | None:
    """The base URL of ``storage``, as a plain string (a lazy one is evaluated)."""
    base_url = getattr(storage, "base_url", None)
    if base_url is None or type(base_url) is str:
        return base_url
    return str(base_url)


def _file_size(path: str) -> int:
    return os.stat(path).st_size
