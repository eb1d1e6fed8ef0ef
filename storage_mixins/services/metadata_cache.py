"""Facts about files, kept in a Django cache, and never stale once a write returned.

Each fact about a path (``exists``, ``size``, ``url``, ``listdir``, a layer's
listing of a directory…) has a key of its own. Every path also has a
*version*: a key holding a random token, which every write to the path, or
below it, replaces. Three mechanisms keep the facts coherent between every
process that shares the cache:

*Versions.* A fact is kept with the version of its path that its reader read
before asking the storage (it is *labelled* with it), and is an answer only
while that version is current: a hit reads the fact and the version in one
``get_many``. A write replaces the versions of its name and of the
directories above it, and nothing else: whatever it changes of their size,
times, listings, or of the file's contents, is then a miss everywhere. An
answer computed before the write carries the version the write replaced, so
a reader that stores it late stores a miss; a version that is evicted,
expires or is cleared is made again as a new token, which no fact carries. So
an eviction can only cost cached answers, never make one stale.

*Fences.* ``exists`` and ``url``, which pages ask about every file, are read
with one ``get``, without the version. A write replaces them (``exists`` of
the name and of each directory above it, which a save may create, and
``url`` of the name) with a *fence*: a marker that reads as a miss, that a
reader's ``add`` cannot replace, and that lives ``FENCE_SECONDS``. A reader
of these reads the version before asking the storage, and after its ``add``
succeeds reads it again: if it changed (or was evicted, which could hide a
write), it fences the key it just added. So a dropped fence cannot let in an
answer computed before the write either.

*Replay.* If the cache fails (Redis down), storage calls go on uncached and one
warning is logged per outage. A write's invalidation that did not reach the
cache is kept, by name, and replayed before this process serves another hit,
as soon as the cache answers again. The writes of the last ``FENCE_SECONDS``
are replayed too, since a cache that comes back may have lost fences and
versions it had acknowledged (Redis restarted from a snapshot older than them).

Which versions: a write *through* the wrapper replaces the paths' versions;
what only a write *around* it can change (the listings of a stack's layers
that are not written to: a read-only production) is labelled with the
paths' *outside versions*, which only :meth:`MetadataCache.invalidate` with
``outside=True`` (``Caching.invalidate()``, the commands) replaces. A save of
``a/b/c.jpg`` writes nine keys: four versions, four fences of ``exists``
and one of ``url``.

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
  outage) can bring back facts that a write had fenced, or versions it had
  replaced.
* A reader that stalls between asking the storage and storing its answer is
  covered however long it stalls: its answer carries, or is checked against,
  a version that a write replaced.
* The protocol needs only what every Django cache backend gives: an atomic
  ``add``, ``get_many``, and a ``set_many`` that applies its keys at once
  (Redis) or in order (the others).
* Writes made around the wrapper are seen when their entries expire, or
  after an explicit invalidation.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed

from .cache_keys import MAX_LISTED_LAYERS, cache_key, directories_above, listing_fact, new_token
from .write_log import WriteLog

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

# The facts read with one get, and fenced by writes: of the written name, and
# of each directory above it (a save creates the directories of its name). A
# url names a directory whatever it holds. Every other fact is labelled.
_FENCED = frozenset({"exists", "url"})
_FENCED_OF_A_FILE = ("exists", "url")
_FENCED_OF_A_PARENT = ("exists",)


class _Default:
    """The type of DEFAULT: "use the cache's own timeout"."""


DEFAULT = _Default()


class _Seen:
    """What :meth:`MetadataCache.get` saw of a labelled fact it missed: the
    version then (``None``: there was none), for :meth:`~MetadataCache.reserve`."""

    __slots__ = ("token",)

    def __init__(self, token: Any) -> None:
        self.token = token


class Reservation:
    """What a reader knew before it asked the storage: the version of the path,
    and whether the fact is stored labelled with it (or checked against it)."""

    __slots__ = ("key", "labelled", "path", "token", "version_key")

    def __init__(
        self, key: str, version_key: str, token: Any, path: str, *, labelled: bool = False
    ) -> None:
        self.key = key
        self.version_key = version_key
        self.token = token
        self.path = path
        self.labelled = labelled


class MetadataCache:
    """Cached facts about the files of one storage.

    ``alias`` names the Django cache to use, in ``CACHES``; ``namespace``
    separates storages sharing one cache (a string, or a function that gives
    it, called at the first use and again after :meth:`forget_namespace`:
    when a setting, or an attribute that says which store a storage is,
    changes, see :func:`forget_namespaces`); ``timeout`` is the lifetime of a fact, in
    seconds (``None``: until a write changes it). ``unwritten`` are the facts
    that no write through the wrapper can change (the listings of a stack's
    layers that are not written to): they carry the outside versions.

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
        unwritten: Iterable[str] = (),
    ) -> None:
        self.alias = alias
        self._this_thread = threading.local()
        self.unwritten = frozenset(unwritten)
        self._namespace_source = namespace
        self._namespace: str | None = namespace if isinstance(namespace, str) else None
        #: The ``exists`` keys of names as callers gave them (plain ``str``
        #: only), for the hottest read: emptied when the namespace is worked
        #: out again (see :meth:`exists_key`).
        self.exists_keys: dict[str, str] = {}
        self.timeout = timeout
        # A version outlives the facts labelled with it, which are lost with it.
        self.version_timeout = None if timeout is None else 2 * timeout
        self._failing = False  # the last call to the cache raised
        self._unsettled = False  # failing, or invalidations wait to be replayed
        self._log = WriteLog(FENCE_SECONDS)
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
        return cache_key(namespace, fact, path)

    def version_key(self, fact: str, path: str) -> str:
        """The key of the version that ``fact`` of ``path`` is labelled with."""
        return self.key("outside" if fact in self.unwritten else "version", path)

    def get(self, fact: str, path: str) -> tuple[bool, Any]:
        """``(True, value)`` for a cached fact; otherwise ``(False, seen)``, where
        ``seen`` is for :meth:`reserve`."""
        if fact in _FENCED:
            entry = self.entry(self.key(fact, path))
            if type(entry) is tuple and len(entry) == 1:
                return True, entry[0]
            return False, entry  # missing, or fenced by a recent write
        key, version_key = self.key(fact, path), self.version_key(fact, path)
        found = self._read_many(key, version_key)
        if found is None:
            return False, None  # the cache failed
        entry, token = found.get(key), found.get(version_key)
        if type(entry) is tuple and len(entry) == 2:
            label = entry[1]
            if label is None or (token is not None and label == token):  # None: a note
                return True, entry[0]
        return False, _Seen(token)

    def entry(self, key: str) -> Any:
        """What the cache holds under ``key`` (from :meth:`key`) of a fenced fact
        (``exists``, ``url``): ``(value,)`` for a cached fact, which is the only
        tuple it can hold; otherwise what :meth:`reserve` needs to know of the
        miss."""
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

    def _read_many(self, *keys: str) -> dict[str, Any] | None:
        """``get_many`` of ``keys``, after settling as :meth:`entry` does;
        ``None`` if the cache failed."""
        found = self._call("get_many", keys)
        if found is not _FAILED and self._unsettled:
            found = self._call("get_many", keys) if self._settle() else _FAILED
        return None if found is _FAILED else found

    def reserve(self, fact: str, path: str, seen: Any) -> Reservation | None:
        """Before asking the storage for a fact :meth:`get` missed: the path's
        version (made now if there is none), for :meth:`add`. ``None`` when
        the answer is not to be stored (the fact is fenced, or the cache
        failed)."""
        if isinstance(seen, _Seen):  # a labelled fact: get read the version
            version_key = self.version_key(fact, path)
            token = seen.token if seen.token is not None else self._version(version_key)
            if token is None:
                return None
            return Reservation(self.key(fact, path), version_key, token, path, labelled=True)
        if seen is not MISSING:
            return None
        version_key = self.key("version", path)
        token = self._version(version_key)
        if token is None:
            return None
        return Reservation(self.key(fact, path), version_key, token, path)

    def version(self, path: str) -> str | None:
        """The current version token of ``path`` (made now if there is none), which
        every write to it replaces; ``None`` if the cache failed. Something
        fetched after reading it is at least as new as that version."""
        token: str | None = self._version(self.key("version", path))
        return token

    def keep_version(self, path: str) -> None:
        """Let ``path``'s version live twice the facts' ``timeout`` from now (until
        a write replaces it): for what is checked against it once its fact
        has expired (``Caching``'s local copies)."""
        try:
            self.cache.touch(self.key("version", path), self.version_timeout)
        except NotImplementedError:
            return  # a backend without touch(): copies are fetched again sooner
        except Exception as exc:  # noqa: BLE001 - see _call
            self._failed(exc)

    def _version(self, version_key: str) -> Any:
        token = self._call("get", version_key)
        if token is None:
            token = new_token()
            added = self._call("add", version_key, token, self.version_timeout)
            if added is not True:
                token = self._call("get", version_key)  # another reader's, or a failure
        return None if token is _FAILED else token

    def add(
        self,
        reservation: Reservation | None,
        value: Any,
        timeout: float | _Default | None = DEFAULT,
    ) -> None:
        """Remember ``value`` unless a write to its path began since
        ``reservation`` was made (or, for a fenced fact, it is cached or
        fenced already)."""
        if reservation is None:
            return
        if isinstance(timeout, _Default):
            timeout = self.timeout
        if timeout is not None and timeout <= 0:
            return
        if reservation.labelled:
            # An older answer stored over it carries an older version: a miss.
            self._call("set", reservation.key, (value, reservation.token), timeout)
            return
        if self._call("add", reservation.key, (value,), timeout) is not True:
            return  # fenced, cached by another reader, or the cache failed
        # A write began since the reservation (or the version was evicted,
        # which could hide one): the value may predate it.
        if (
            self._call("get", reservation.version_key) != reservation.token
            and self._call("set", reservation.key, _FENCE, FENCE_SECONDS) is _FAILED
        ):
            self._keep_pending(reservation.path, outside=False)

    def note(self, fact: str, path: str, value: Any, timeout: float | None) -> None:
        """Keep ``value`` as ``fact`` of ``path`` for ``timeout`` seconds, whatever
        is written meanwhile: for what says how to read (a directory too large
        to list), not what the files are. Read by :meth:`get`."""
        if fact not in _FENCED and (timeout is None or timeout > 0):
            self._call("set", self.key(fact, path), (value, None), timeout)

    # -- one process of many ---------------------------------------------------------

    def claim(self, key: str, seconds: int) -> str | None:
        """Claim ``key`` for ``seconds`` (at least 1: Redis and Memcached count
        whole seconds), across every process sharing the cache: a token if
        this caller has it (or the cache failed: nobody waits for a cache
        that does not answer), ``None`` if another caller has it."""
        token = new_token()
        return None if self._call("add", key, token, seconds) is False else token

    def holder(self, key: str) -> str | None:
        """The token of the claim of ``key``, or ``None`` if nobody holds it
        (or the cache failed)."""
        token = self._call("get", key)
        return token if isinstance(token, str) else None

    def release(self, key: str, token: str) -> None:
        """Give up the claim ``token`` of ``key``, unless it expired and another
        caller has it now."""
        if self.holder(key) == token:
            self._call("delete", key)

    # -- writers -------------------------------------------------------------------

    def invalidate(self, path: str, *, outside: bool = False) -> None:
        """Replace the versions of ``path`` (a canonical name) and of the
        directories above it, and fence their ``exists`` (and ``url`` of
        ``path``). With ``outside``, for a write made around the wrapper,
        their outside versions too."""
        path = path.strip("/")
        self._log.written(path, outside)
        if self._fence(((path, outside),)):
            if self._unsettled:
                self._settle()
        else:
            self._keep_pending(path, outside=outside)

    def invalidate_many(self, paths: Iterable[str], *, outside: bool = False) -> int:
        """:meth:`invalidate` each of ``paths``, :data:`_REPLAY_BATCH` of them a
        call to the cache (the versions of the directories they share replaced
        once a call): after many writes made around the storage. Returns how
        many invalidations have not reached the cache (it failed): only this
        process replays them."""
        batch: list[tuple[str, bool]] = []
        for path in paths:
            path = path.strip("/")
            self._log.written(path, outside)
            batch.append((path, outside))
            if len(batch) == _REPLAY_BATCH:
                self._fence_or_keep(batch)
                batch = []
        self._fence_or_keep(batch)
        if self._unsettled:
            self._settle()
        return len(self._log)

    def _fence_or_keep(self, paths: list[tuple[str, bool]]) -> None:
        """Fence ``paths``, or keep them to replay if that did not reach the cache."""
        if paths and not self._fence(paths):
            for path, outside in paths:
                self._keep_pending(path, outside=outside)

    def _fence(self, paths: Iterable[tuple[str, bool]]) -> bool:
        """Replace the versions of ``paths`` (each with whether its outside
        versions too) and fence what is read without them, in two calls;
        whether that reached the cache."""
        namespace = self.namespace
        versions: dict[str, Any] = {}
        fences: dict[str, Any] = {}
        for path, outside in paths:
            kinds = ("version", "outside") if outside else ("version",)
            for fact in _FENCED_OF_A_FILE:
                fences[cache_key(namespace, fact, path)] = _FENCE
            for kind in kinds:
                versions[cache_key(namespace, kind, path)] = new_token()
            for directory in directories_above(path):
                for fact in _FENCED_OF_A_PARENT:
                    fences[cache_key(namespace, fact, directory)] = _FENCE
                for kind in kinds:
                    versions[cache_key(namespace, kind, directory)] = new_token()
        # Versions first: a reader of a fenced fact that stores after them finds
        # its version changed and fences what it stored; one that stored before
        # them sees its answer replaced by the fences that follow.
        for keys, timeout in ((versions, self.version_timeout), (fences, FENCE_SECONDS)):
            result = self._call("set_many", keys, timeout)
            if result is _FAILED or result:  # set_many lists the keys it failed
                return False
        return True

    def _keep_pending(self, path: str, *, outside: bool) -> None:
        self._log.pending(path, outside)
        self._unsettled = True

    # -- failures and recovery -----------------------------------------------------

    def _settle(self) -> bool:
        """Replay what did not reach the cache (and, after a failure, the recent
        writes, whose fences a restarted cache may have lost); whether the
        cache has them all now."""
        replay = self._log.to_replay(recent=self._failing)
        paths = list(replay.items())
        for start in range(0, len(paths), _REPLAY_BATCH):
            if not self._fence(paths[start : start + _REPLAY_BATCH]):
                return False
        if not self._log.replayed(replay):
            return False  # written meanwhile, and failed: replayed next time
        self._unsettled = False
        if self._failing:
            self._failing = False
            logger.info("Cache %r works again; %d invalidation(s) replayed", self, len(replay))
        return True

    def flush_pending(self) -> int:
        """Try once more to replay what did not reach the cache; how many
        invalidations are still pending."""
        if self._unsettled and len(self._log):
            self._settle()
        return len(self._log)

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
        left = metadata.flush_pending()
        if left:
            logger.error(
                "%d invalidation(s) never reached cache %r (it failed); other processes "
                "may serve the facts they fence until those expire",
                left,
                metadata,
            )
