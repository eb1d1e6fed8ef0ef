"""``Caching``: remove the round-trips that make remote storages slow.

Metadata (``exists``, ``size``, ``get_*_time``, ``listdir``, ``url``) is kept in
a Django cache, so a Redis or Memcached cache shares it between processes and
machines (see ``storage_mixins.services.metadata_cache`` for how invalidation
stays coherent). A directory's listing answers for all its files, in one
request (``reads``; ``storage_mixins.services.listing_cache`` states when a
directory is listed and when files are asked about one by one). Optionally,
file contents are copied to a local directory on first read and served from
there (``copies``).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, ClassVar, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage

from ...backends.signed_urls import seconds_left
from ...core.files import ClosingReported
from ...core.labels import storage_label
from ...core.modes import checked_mode, is_write_mode
from ...core.names import canonical_directory, canonical_name
from ...core.resolve import StorageSpec, resolve_storage
from ...core.stack import children, contains, invents_files, is_read_only, is_router
from ...core.wrapper import StorageWrapper
from ...services.cache_keys import MAX_LISTED_LAYERS, listing_fact
from ...services.contents_cache import ContentsCache
from ...services.listing_cache import LISTING_LIMIT
from ...services.metadata_cache import MetadataCache
from ...services.namespaces import namespace_of
from ...services.write_views import hearing_writes, own_method
from .copies import Copies
from .reads import Reads, computed, within

# A fact a storage answers (a size, a listing…), as cached.
_Fact = TypeVar("_Fact")

__all__ = ["Caching"]


class Caching(StorageWrapper):
    """Cache what ``storage`` says about its files, and optionally the files.

    ``exists``, ``size``, the times, ``listdir`` and ``url`` are kept in the
    Django cache ``cache`` (an alias in ``CACHES``) for ``timeout`` seconds (a
    miss for ``missing_timeout``), namespaced by the storage's identity or by
    ``key_prefix``. With ``listings`` (``"auto"``: an ``S3Storage``'s
    directories; ``True``: every backend's; ``False``: none), a fact that is
    not cached is answered from the cached listing of the file's directory,
    for directories of at most ``listing_limit`` entries. With ``contents``
    (a storage with local paths), files are copied there on their first read
    and read from the copy, but for those over ``max_content_size`` bytes,
    which are streamed.

    Every write through the wrapper (``save``, ``_save``, ``delete``, a
    write-mode ``open`` and its close, ``post_process``, ``save_manifest``)
    invalidates what it may change before it returns, in every process that
    shares the cache: nothing cached is stale once a write has returned.
    If the cache fails, calls go to ``storage`` uncached. The contract, in
    full, and its limits: docs/caching.rst.
    """

    deconstruct_path = "storage_mixins.Caching"
    passes_reads_through: ClassVar[bool] = True

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
        wrapped = self.__wrapped__
        namespace = key_prefix or (lambda: namespace_of(wrapped))
        self._self_metadata = metadata = MetadataCache(
            cache, namespace, timeout, unwritten=_unwritten_listings(wrapped)
        )
        self._self_timeout = timeout
        self._self_missing_timeout = timeout if missing_timeout is None else missing_timeout
        self._self_reads = reads = Reads(
            wrapped,
            metadata,
            option=listings,
            limit=listing_limit,
            timeout=timeout,
            missing_timeout=self._self_missing_timeout,
        )
        # A stack that skips layers that are down answers without them then,
        # and a placeholder answers for a file no layer has until one comes:
        # such answers are returned but not remembered.
        self._self_may_skip = contains(
            wrapped,
            lambda storage: getattr(storage, "on_error", None) == "skip" or invents_files(storage),
        )
        self._self_copies = None
        if contents is not None:
            contents_cache = ContentsCache(
                resolve_storage(contents, owner="Caching"), lambda: metadata.namespace
            )
            self._self_copies = Copies(
                self,
                contents_cache,
                metadata,
                reads,
                max_size=max_content_size,
                timeout=timeout,
                may_skip=self._self_may_skip,
            )
        self._self_max_content_size = max_content_size

    @property
    def cache_alias(self) -> str:
        """The alias, in ``CACHES``, of the cache that holds the metadata."""
        return self._self_metadata.alias

    @property
    def _self_hot(self) -> Caching:
        # What 0.1.0 pickled a bound ``cached.exists`` as (its hot path object,
        # gone): getattr(getattr(cached, "_self_hot"), "exists"). Such pickles load.
        return self

    def describe_node(self) -> tuple[str, list[tuple[str, Storage, str]]]:
        options = [f"cache={self.cache_alias!r}", f"timeout={self._self_timeout}"]
        if self._self_missing_timeout != self._self_timeout:
            options.append(f"missing_timeout={self._self_missing_timeout}")
        copies = self._self_copies
        if copies is not None:
            options.append(f"contents={storage_label(copies.contents.storage)}")
        if self._self_max_content_size is not None:
            options.append(f"max_content_size={self._self_max_content_size}")
        options.extend(self._self_reads.describe())
        return f"Caching  ({', '.join(options)})", [("", self.__wrapped__, "")]

    # -- cached metadata -----------------------------------------------------

    def exists(self, name: str) -> bool:
        metadata = self._self_metadata
        key = metadata.exists_keys.get(name)  # pages ask about the same names
        if key is None:
            path = canonical_name(name)
            if path is None:
                return bool(self.__wrapped__.exists(name))  # not cached: see canonical_name
            key = metadata.exists_key(name, path)
        entry = metadata.entry(key)
        if entry.__class__ is tuple:
            found: bool = entry[0]
            return found
        return self._exists_missed(name, entry)

    def _exists_missed(self, name: str, seen: Any) -> bool:
        path = canonical_name(name)
        assert path is not None  # a name whose key the memo holds
        metadata = self._self_metadata
        reservation = metadata.reserve("exists", path, seen)
        found, complete, left = self._computed(self._exists_of, name)
        if complete:
            metadata.add(reservation, found, within(self._exists_timeout(found), left))
        return found

    def size(self, name: str) -> int:
        return self._remembered("size", name, canonical_name(name), self._size_of)

    def get_accessed_time(self, name: str) -> datetime.datetime:
        return self._remembered_time("get_accessed_time", name)

    def get_created_time(self, name: str) -> datetime.datetime:
        return self._remembered_time("get_created_time", name)

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._remembered_time("get_modified_time", name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        directories, files = self._remembered(
            "listdir", path, canonical_directory(path), self.__wrapped__.listdir
        )
        return list(directories), list(files)

    def url(self, name: str | None, *args: Any, **kwargs: Any) -> str:
        if args or kwargs or name is None:  # made to measure, or the root's: not shared
            answer: str = self._self_reads.get().url(name, *args, **kwargs)
            return answer
        # Kept with the base URL it was made with, which is not part of the
        # namespace: reading it forces a lazy base_url (reverse_lazy), which
        # Django does only in url(). Storages of one location but different
        # base URLs then share every fact but this one.
        base_url = _base_url_of(self.__wrapped__)
        made_with, url = self._remembered(
            "url", name, canonical_name(name), self._url_made_with, self._url_timeout
        )
        if made_with != base_url:
            fresh: str = self._self_reads.get().url(name)
            return fresh
        return url

    def _url_made_with(self, name: str) -> tuple[str | None, str]:
        # The layer that serves the file (in a Fallback) is asked through the
        # listings, if any; the URL is that layer's own.
        return _base_url_of(self.__wrapped__), self._self_reads.get().url(name)

    # -- contents ------------------------------------------------------------

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)  # what decides invalidation is what is passed on
        if self._self_copies is None and mode == "rb":
            file: File[Any] = self._self_reads.get().open(name, mode)  # nothing to do
            return file
        return self._opened(name, mode, "open")

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        if mode.__class__ is not str:
            mode = checked_mode(mode)
        return self._opened(name, mode, "_open")

    def _opened(self, name: str, mode: str, method: str) -> File[Any]:
        """``open`` or ``_open`` (``method``) of ``name`` in ``mode``."""
        if is_write_mode(mode):
            self._invalidate(name)
            try:
                file = getattr(self.__wrapped__, method)(name, mode)
            except BaseException:
                self._invalidate(name)  # it may have created or truncated the file
                raise
            return ClosingReported(file, name, self._invalidate)
        copies = self._self_copies
        if copies is None:
            read: File[Any] = getattr(self._self_reads.get(), method)(name, mode)
            return read
        return copies.open(name, mode, method)

    def path(self, name: str) -> str:
        copies = self._self_copies
        if copies is not None:
            known = copies.known_path(name)
            if known is not None:
                return known  # a local copy, without asking the storage
        try:
            found: str = self._self_reads.get().path(name)  # a stack asks through the listings
            return found
        except NotImplementedError as no_path:
            if copies is None:
                raise
            refusal = no_path
        copy = copies.local_copy(name)
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
        ``services.write_views``): a stack (or a read-only storage) runs it its
        own way, over a view of its write layer that reports them (or refuses
        it); anything else runs the backend's code with a view of the storage
        as ``self``, whose writes go through the storage and are reported."""
        wrapped = self.__wrapped__
        own: Callable[..., Any] = getattr(wrapped, method)  # AttributeError if it has none
        if is_read_only(wrapped) or contains(wrapped, is_router):
            return own
        bound: Callable[..., Any] = own_method(wrapped, method)
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
            metadata.add(reservation, value, within(timeout, left))
        return value

    def _remembered_time(self, fact: str, name: str) -> datetime.datetime:
        """A time fact, kept in UTC and given as Django's storages give it now:
        aware if ``USE_TZ``, naive local time otherwise (the setting may have
        changed since the answer was cached)."""
        return _as_storages_give(
            self._remembered(fact, name, canonical_name(name), lambda n: self._time_of(fact, n))
        )

    def _time_of(self, fact: str, name: str) -> datetime.datetime:
        time: datetime.datetime = getattr(self._self_reads.get(), fact)(name)
        return _in_utc(time)

    def _exists_of(self, name: str) -> bool:
        found: bool = self._self_reads.get().exists(name)
        return found

    def _size_of(self, name: str) -> int:
        size: int = self._self_reads.get().size(name)
        return size

    def _computed(
        self, compute: Callable[[str], _Fact], name: str
    ) -> tuple[_Fact, bool, float | None]:
        """See :func:`~storage_mixins.wrappers.caching.reads.computed`."""
        return computed(compute, name, may_skip=self._self_may_skip)

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
        """Forget what is cached about ``name`` (and the listings above it, every
        layer's), in every process: for writes made without going through
        this wrapper."""
        self._invalidate(name, outside=True)

    def invalidate_many(self, names: Iterable[str]) -> int:
        """:meth:`invalidate` each of ``names``, in a few calls to the cache: for
        many files changed around this wrapper (a restored dump's:
        ``manage.py storage_forget``). Returns how many invalidations have not
        reached the cache (it failed): this process replays them when it
        answers again, and they are lost if it exits first."""
        paths = [path for name in names for path in self._paths_written(name)]
        left = self._self_metadata.invalidate_many(paths, outside=True)
        copies = self._self_copies
        if copies is not None:
            for path in paths:
                copies.contents.discard(path)
        return left

    def _invalidate(self, name: str, *, outside: bool = False) -> None:
        """Forget what a write through the wrapper to ``name`` may change
        (``outside``: a write around it, which may change any layer)."""
        copies = self._self_copies
        for path in self._paths_written(name):
            self._self_metadata.invalidate(path, outside=outside)
            if copies is not None:
                copies.contents.discard(path)

    def _paths_written(self, name: str) -> list[str]:
        """The cached paths that a write to ``name`` may change.

        Names that are not cached (absolute, or with a trailing slash: see
        ``core.names.canonical_name``) still name a file that is: the name
        without its slashes (what S3 writes), and for a storage on local disk the name
        relative to its location (``FileSystemStorage.delete("/srv/media/a")``
        deletes ``a``). Invalidating both is safe whichever the storage meant.
        """
        path = canonical_name(name)
        if path is not None:
            return [path]
        text = str(name)
        paths = [canonical_directory(text.lstrip("/")) or ""]
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


_DONE = object()  # an iterator's end


def _unwritten_listings(storage: Storage) -> list[str]:
    """The listings of ``storage`` that no write through it can change: in a
    stack, those of the layers that are not its write layer (a write goes to
    that layer alone, and clears tombstones, which are kept in it and read
    beneath every wrapper); of a storage that refuses writes, its own."""
    if not is_router(storage):
        return [listing_fact(0)] if is_read_only(storage) else []
    write_layer = getattr(storage, "write_layer", None)
    return [
        listing_fact(position)
        for position, layer in enumerate(children(storage)[:MAX_LISTED_LAYERS])
        if layer is not write_layer
    ]


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


def _base_url_of(storage: Storage) -> str | None:
    """The base URL of ``storage``, as a plain string (a lazy one is evaluated)."""
    base_url = getattr(storage, "base_url", None)
    if base_url is None or type(base_url) is str:
        return base_url
    return str(base_url)
