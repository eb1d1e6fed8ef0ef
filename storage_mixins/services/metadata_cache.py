"""Facts about files, kept in a Django cache, and never stale once a write returned.

Each fact about a path (``exists``, ``size``, ``url``, ``listdir``, a layer's
listing of a directory…) has a key of its own, and a hit costs one ``get``.
Three mechanisms keep the facts coherent between every process that shares
the cache:

*Fences.* Readers only ever *add* a fact (``cache.add``: set if absent). A
write replaces every fact about the written name, and what it changes about
the directories above it, with a *fence*: a marker that reads as a miss, that
``add`` cannot replace, and that lives ``FENCE_SECONDS``. So invalidation
reaches every process before the write returns, and a reader that computed
its answer before the write cannot store it while the fence lives.

*Versions.* A cache may drop any key at any time: ``LocMemCache`` culls a
third of its entries past ``MAX_ENTRIES``, Redis evicts under ``maxmemory``,
Memcached under its LRU, and ``clear()`` drops everything. A fence alone is
then not enough: a reader that started before a write could store its stale
answer once the fence is gone. So each path also has a *version* key holding
a random token. A reader that misses reads the token before it asks the
storage (creating one if there is none); after its ``add`` succeeds it reads
the token again and, if it is not the same, fences the key it just added.
Every write replaces the tokens of its name and of the directories above it,
in the same ``set_many`` as its fences and before them. A changed, evicted or
expired token all read as "not the same", so an eviction can only cost a
cached answer, never make one stale: whatever the cache drops, a value
survives only if no write to its path began after the reader read the
token. Hits pay nothing for this; a miss that is stored costs two or three
more round-trips (read the token, maybe create it, read it again), and none
when the fact is fenced.

*Replay.* If the cache fails (Redis down), storage calls go on uncached and one
warning is logged per outage. A write's invalidation that did not reach the
cache is kept, by name, and replayed before this process serves another hit,
as soon as the cache answers again. The writes of the last ``FENCE_SECONDS``
are replayed too, since a cache that comes back may have lost fences it had
acknowledged (Redis restarted from a snapshot older than them).

Limits, stated exactly:

* Two processes agree only through the cache. An invalidation that did not
  reach it waits in the memory of the process that made the write, and
  other processes serve what the cache holds until that process replays it:
  on its next use of the wrapper (any method that consults the cache), or at
  its exit. If it exits while the cache is still down, the invalidation is
  lost, and the entries expire after ``timeout`` seconds (``None``: never):
  an error is logged then.
* A cache that silently loses acknowledged writes (restarts from an older
  snapshot without any call failing in between, so that no process saw an
  outage) can bring back facts that a write had fenced.
* A reader that stalls between asking the storage and storing its answer is
  covered however long it stalls, past the fence's life too: a version that
  a write replaced, or that expired or was evicted meanwhile, reads as
  changed.
* The protocol needs only what every Django cache backend gives: an atomic
  ``add``, and a ``set_many`` that applies its keys at once (Redis) or in
  order (the others).
* Writes made around the wrapper are seen when their entries expire, or
  after an explicit invalidation.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import itertools
import logging
import os
import posixpath
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed

__all__ = [
    "DEFAULT",
    "FENCE_SECONDS",
    "MAX_LISTED_LAYERS",
    "MISSING",
    "MetadataCache",
    "Reservation",
    "forget_namespaces",
    "listing_fact",
    "new_token",
]

logger = logging.getLogger("storage_mixins.metadata_cache")  # its name in 0.1.0, kept

# How long facts about a written name stay uncached, and how far back the
# writes of a process are replayed when its cache recovers from a failure.
FENCE_SECONDS = 30

_FENCE = "storage_mixins:fence"
_REPLAY_BATCH = 200  # paths fenced per set_many when replaying
_EXISTS_KEYS = 8192  # names remembered by exists_key()
MISSING = object()
_FAILED = object()  # what _call returns when the cache raised

# Short codes keep keys short: every key is checked character by character
# (for memcached's sake) on every get and set.
_CODES = {
    "exists": "e",
    "size": "s",
    "get_accessed_time": "a",
    "get_created_time": "c",
    "get_modified_time": "m",
    "url": "u",
    "listdir": "l",
    "contents": "x",
    "version": "v",
}
# The listing of a directory as layer N of the storage sees it (N is 0 for a
# storage that is not a Fallback): see storage_mixins.services.listing_cache.
MAX_LISTED_LAYERS = 16
_CODES.update({f"listing:{position}": f"L{position:x}" for position in range(MAX_LISTED_LAYERS)})
# Facts a write changes: everything about the file itself (and, since the name
# may be a directory's, a deleted empty one, what it lists)…
_FACTS_OF_A_FILE = ("exists", "size", "get_accessed_time", "get_created_time",
                    "get_modified_time", "url", "contents", "listdir")  # fmt: skip
# …and, for each directory above it, everything a new or removed entry can
# change: whether it exists (a save creates the directories of its name), what
# it lists (its listdir, and its listings), and its own size and times
# (FileSystemStorage answers them for a directory). Not its url, which names
# it whatever it holds.
_FACTS_OF_A_PARENT = ("exists", "listdir", "size", "get_accessed_time", "get_created_time",
                      "get_modified_time")  # fmt: skip


def listing_fact(position: int) -> str:
    """The fact that holds a directory's listing by layer ``position``."""
    return f"listing:{position}"


@functools.lru_cache(maxsize=8192)
def _key(namespace: str, fact: str, path: str) -> str:
    # The path is hashed: the key is then safe for memcached (no spaces or
    # control characters) and short (well under its 250-character limit)
    # whatever the file name. Pages ask about the same names over and over,
    # hence the memo.
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=10)
    return f"sm:{namespace}:{_CODES[fact]}{digest.hexdigest()}"


def new_token() -> str:
    """A version token no other process, or earlier run, makes: a random
    prefix per process (new in a forked child) and a counter."""
    return f"{_token_prefix}{next(_token_counter)}"


def _new_token_source() -> None:
    global _token_prefix, _token_counter
    _token_prefix = uuid.uuid4().hex[:16]
    _token_counter = itertools.count()


_token_prefix = ""
_token_counter = itertools.count()
_new_token_source()
os.register_at_fork(after_in_child=_new_token_source)


class _Default:
    """The type of DEFAULT: "use the cache's own timeout"."""


DEFAULT = _Default()


class Reservation:
    """What a reader knew before it asked the storage: the version of the path."""

    __slots__ = ("key", "path", "token", "version_key")

    def __init__(self, key: str, version_key: str, token: Any, path: str) -> None:
        self.key = key
        self.version_key = version_key
        self.token = token
        self.path = path


class MetadataCache:
    """Cached facts about the files of one storage.

    ``alias`` names the Django cache to use, in ``CACHES``; ``namespace``
    separates storages sharing one cache (a string, or a function that gives
    it, called at the first use and again after :meth:`forget_namespace`:
    when a setting, or an attribute that says which store a storage is,
    changes, see :func:`forget_namespaces`); ``timeout`` is the lifetime of a fact, in
    seconds (``None``: until a write fences it). ``layers`` is how many
    layers' listings a directory can have (see ``listing_fact``): a write
    fences all of them, in every directory above it, whether this process
    lists or not, since another process sharing the cache may.

    A reader calls :meth:`get`; on a miss, :meth:`reserve` with what ``get``
    saw, then asks the storage, then :meth:`add`. A writer calls
    :meth:`invalidate` after its write, whether the write succeeded or not.
    """

    def __init__(
        self,
        alias: str,
        namespace: str | Callable[[], str],
        timeout: float | None,
        *,
        layers: int = 1,
    ) -> None:
        self.alias = alias
        self._this_thread = threading.local()
        listings = tuple(
            listing_fact(position) for position in range(min(layers, MAX_LISTED_LAYERS))
        )
        self.own_facts = (*_FACTS_OF_A_FILE, *listings)
        self.parent_facts = (*_FACTS_OF_A_PARENT, *listings)
        self._namespace_source = namespace
        self._namespace: str | None = namespace if isinstance(namespace, str) else None
        #: The ``exists`` keys of names as callers gave them (plain ``str``
        #: only), for the hottest read: emptied when the namespace is worked
        #: out again (see :meth:`exists_key`).
        self.exists_keys: dict[str, str] = {}
        self.timeout = timeout
        self._failing = False  # the last call to the cache raised
        self._unsettled = False  # failing, or invalidations wait to be replayed
        self._lock = threading.Lock()
        self._pending: dict[str, None] = {}  # paths whose invalidation did not reach the cache
        self._recent: dict[str, float] = {}  # path -> when it was last written (monotonic)
        _instances.add(self)

    def __repr__(self) -> str:
        return f"caches[{self.alias!r}]"

    @property
    def cache(self) -> BaseCache:
        """This thread's Django cache object: Django gives each thread its own,
        and looking it up by alias costs more than a hit (so it is kept)."""
        try:
            cache: BaseCache = self._this_thread.cache
        except AttributeError:
            cache = self._this_thread.cache = caches[self.alias]
        return cache

    @property
    def namespace(self) -> str:
        namespace = self._namespace
        return namespace if namespace is not None else self._resolve_namespace()

    def _resolve_namespace(self) -> str:
        source = self._namespace_source
        namespace = source if isinstance(source, str) else source()
        self._namespace = namespace
        return namespace

    def forget_namespace(self) -> None:
        """Work the namespace out again at the next use: the storage it names
        may have changed (``MEDIA_ROOT``, a ``location`` set)."""
        if not isinstance(self._namespace_source, str):
            self._namespace = None
        self.exists_keys.clear()

    # -- readers -------------------------------------------------------------------

    def exists_key(self, name: Any, path: str) -> str:
        """The key of ``exists`` of ``path``, remembered in :attr:`exists_keys`
        under ``name`` (the name a caller gave for ``path``) if it is a plain
        ``str``: a subclass could claim to equal another name."""
        key = self.key("exists", path)
        if name.__class__ is str:
            keys = self.exists_keys
            if len(keys) >= _EXISTS_KEYS:
                keys.clear()  # pages ask about the same few names: start again
            keys[name] = key
        return key

    def key(self, fact: str, path: str) -> str:
        """The cache key of ``fact`` about ``path``: for :meth:`entry`."""
        namespace = self._namespace
        if namespace is None:
            namespace = self._resolve_namespace()
        return _key(namespace, fact, path)

    def get(self, fact: str, path: str) -> tuple[bool, Any]:
        """``(True, value)`` for a cached fact; otherwise ``(False, seen)``, where
        ``seen`` is for :meth:`reserve`."""
        entry = self.entry(self.key(fact, path))
        if type(entry) is tuple and len(entry) == 1:
            return True, entry[0]
        return False, entry  # missing, or fenced by a recent write

    def entry(self, key: str) -> Any:
        """What the cache holds under ``key`` (from :meth:`key`): ``(value,)`` for
        a cached fact, which is the only tuple it can hold; otherwise what
        :meth:`reserve` needs to know of the miss."""
        # The hot path of every hit: kept to one call into the cache.
        try:
            entry = self.cache.get(key, MISSING)
        except Exception as exc:  # noqa: BLE001 - see _call
            self._failed(exc)
            return None
        if self._unsettled:
            return self._entry_after_settling(key)
        return entry

    def _entry_after_settling(self, key: str) -> Any:
        # Back after a failure: what this process wrote meanwhile must reach
        # the cache before it serves anything, and the entry read may be one
        # of the facts it fences: read it again.
        if not self._settle():
            return None
        try:
            return self.cache.get(key, MISSING)
        except Exception as exc:  # noqa: BLE001 - see _call
            self._failed(exc)
            return None

    def reserve(self, fact: str, path: str, seen: Any) -> Reservation | None:
        """Before asking the storage for a fact :meth:`get` missed: read the path's
        version, for :meth:`add`. ``None`` when the answer is not to be stored
        (the fact is fenced, or the cache failed)."""
        if seen is not MISSING:
            return None
        namespace = self.namespace
        version_key = _key(namespace, "version", path)
        token = self._version(version_key)
        if token is None:
            return None
        return Reservation(_key(namespace, fact, path), version_key, token, path)

    def version(self, path: str) -> str | None:
        """The current version token of ``path`` (made now if there is none), which
        every write to it replaces; ``None`` if the cache failed. Something
        fetched after reading it is at least as new as that version."""
        token: str | None = self._version(_key(self.namespace, "version", path))
        return token

    def keep_version(self, path: str) -> None:
        """Let ``path``'s version live twice the facts' ``timeout`` from now (until
        a write replaces it): for what is checked against it once its fact
        has expired (``Caching``'s local copies)."""
        timeout = None if self.timeout is None else 2 * self.timeout
        try:
            self.cache.touch(_key(self.namespace, "version", path), timeout)
        except NotImplementedError:
            return  # a backend without touch(): copies are fetched again sooner
        except Exception as exc:  # noqa: BLE001 - see _call
            self._failed(exc)

    def _version(self, version_key: str) -> Any:
        token = self._call("get", version_key)
        if token is None:
            token = new_token()
            added = self._call("add", version_key, token, self.timeout)
            if added is not True:
                token = self._call("get", version_key)  # another reader's, or a failure
        return None if token is _FAILED else token

    def add(
        self,
        reservation: Reservation | None,
        value: Any,
        timeout: float | _Default | None = DEFAULT,
    ) -> None:
        """Remember ``value`` unless the fact is cached or fenced already, or a
        write to its path began since ``reservation`` was made."""
        if reservation is None:
            return
        if isinstance(timeout, _Default):
            timeout = self.timeout
        if timeout is not None and timeout <= 0:
            return
        if self._call("add", reservation.key, (value,), timeout) is not True:
            return  # fenced, cached by another reader, or the cache failed
        # A write began since the reservation (or the version was evicted,
        # which could hide one): the value may predate it.
        if (
            self._call("get", reservation.version_key) != reservation.token
            and self._call("set", reservation.key, _FENCE, FENCE_SECONDS) is _FAILED
        ):
            self._keep_pending(reservation.path)

    # -- writers -------------------------------------------------------------------

    def invalidate(self, path: str) -> None:
        """Fence every fact about ``path`` (a canonical name; its listings too, for
        a directory deleted), and what a write to it changes about the
        directories above it (their existence, listing, size and times); give
        them all new versions."""
        path = path.strip("/")
        self._remember_write(path)
        if self._fence(path):
            if self._unsettled:
                self._settle()
        else:
            self._keep_pending(path)

    def invalidate_many(self, paths: Iterable[str]) -> None:
        """:meth:`invalidate` each of ``paths``, :data:`_REPLAY_BATCH` of them a
        call to the cache (the facts of the directories they share fenced once
        a call): after many writes made around the storage."""
        batch: list[str] = []
        for path in paths:
            path = path.strip("/")
            self._remember_write(path)
            batch.append(path)
            if len(batch) == _REPLAY_BATCH:
                self._fence_or_keep(batch)
                batch = []
        self._fence_or_keep(batch)
        if self._unsettled:
            self._settle()

    def _fence_or_keep(self, paths: list[str]) -> None:
        """Fence ``paths``, or keep them to replay if that did not reach the cache."""
        if paths and not self._fence(*paths):
            for path in paths:
                self._keep_pending(path)

    def _fence(self, *paths: str) -> bool:
        """Fence ``paths`` in the cache, in one call; whether that reached it."""
        namespace = self.namespace
        versions: dict[str, Any] = {}
        fences: dict[str, Any] = {}
        for path in paths:
            for fact in self.own_facts:
                fences[_key(namespace, fact, path)] = _FENCE
            versions[_key(namespace, "version", path)] = new_token()
            directory = path
            while directory:
                directory = posixpath.dirname(directory)
                for fact in self.parent_facts:
                    fences[_key(namespace, fact, directory)] = _FENCE
                versions[_key(namespace, "version", directory)] = new_token()
        # Versions first: a backend that applies set_many key by key (all but
        # Redis, whose MULTI applies it at once) must change them before a
        # fence appears, or a reader could store between the two.
        result = self._call("set_many", {**versions, **fences}, FENCE_SECONDS)
        return result is not _FAILED and not result  # set_many lists the keys it failed

    def _remember_write(self, path: str) -> None:
        now = time.monotonic()
        with self._lock:
            recent = self._recent
            recent.pop(path, None)
            recent[path] = now  # kept in the order of the writes
            horizon = now - FENCE_SECONDS
            while recent:
                oldest = next(iter(recent))
                if recent[oldest] >= horizon:
                    break
                del recent[oldest]

    def _keep_pending(self, path: str) -> None:
        with self._lock:
            self._pending[path] = None
        self._unsettled = True

    # -- failures and recovery -----------------------------------------------------

    def _settle(self) -> bool:
        """Replay what did not reach the cache (and, after a failure, the recent
        writes, whose fences a restarted cache may have lost); whether the
        cache has them all now."""
        with self._lock:
            replay = dict(self._pending)
            if self._failing:
                horizon = time.monotonic() - FENCE_SECONDS
                replay.update(
                    (path, None) for path, when in self._recent.items() if when >= horizon
                )
        paths = list(replay)
        for start in range(0, len(paths), _REPLAY_BATCH):
            if not self._fence(*paths[start : start + _REPLAY_BATCH]):
                return False
        with self._lock:
            for path in replay:
                self._pending.pop(path, None)
            if self._pending:
                return False  # written meanwhile, and failed: replayed next time
            self._unsettled = False
        if self._failing:
            self._failing = False
            logger.info("Cache %r works again; %d invalidation(s) replayed", self, len(replay))
        return True

    def flush_pending(self) -> int:
        """Try once more to replay what did not reach the cache; how many
        invalidations are still pending."""
        if self._unsettled:
            self._settle()
        with self._lock:
            return len(self._pending)

    def _call(self, operation: str, *args: Any) -> Any:
        try:
            return getattr(self.cache, operation)(*args)
        # The cache only saves round-trips; whatever its backend raises
        # (redis, pymemcache, socket errors), storage calls go on without it.
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return _FAILED

    def _failed(self, exc: Exception) -> None:
        self._unsettled = True
        if not self._failing:  # once per outage, not once per call
            self._failing = True
            logger.warning(
                "Cache %r failed (%s: %s); storage calls go on uncached until it "
                "recovers, and writes' invalidations are replayed then",
                self,
                type(exc).__name__,
                exc,
            )


_instances: weakref.WeakSet[MetadataCache] = weakref.WeakSet()


def forget_namespaces(**_signal: Any) -> None:
    """:meth:`MetadataCache.forget_namespace` for every one: a setting changed
    (Django's ``setting_changed``; ``FileSystemStorage`` reads ``MEDIA_ROOT``
    again then), or an identity attribute was set through a wrapper."""
    for metadata in list(_instances):
        metadata.forget_namespace()


setting_changed.connect(forget_namespaces, dispatch_uid="storage_mixins.forget_namespaces")


@atexit.register
def _flush_at_exit() -> None:
    """A last try for invalidations that never reached the cache; say so if lost."""
    for metadata in list(_instances):
        if not metadata._pending:
            continue
        left = metadata.flush_pending()
        if left:
            logger.error(
                "%d invalidation(s) never reached cache %r (it failed); other processes "
                "may serve the facts they fence until those expire",
                left,
                metadata,
            )
