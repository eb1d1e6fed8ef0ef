"""Facts about files, kept in a Django cache and invalidated with fences.

Each fact about a path (``exists``, ``size``, ``url``, ``listdir``…) has a key
of its own. Readers only ever *add* a fact (``cache.add``: set if absent). A
write replaces every fact about the written name, and the listings of the
directories above it, with a *fence*: a short-lived marker that reads as a
miss and that ``add`` cannot replace. So:

* invalidation reaches every process that shares the cache, before the write
  returns;
* a reader that computed its answer before the write cannot store it over the
  fence: it would have to be stalled for longer than the fence lives
  (``FENCE_SECONDS``);
* a hit costs one ``get``.

A failing cache (Redis down) never fails a storage call: reads become misses,
writes are skipped, and one warning is logged per outage.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import posixpath
from collections.abc import Iterator
from typing import Any

__all__ = ["FENCE_SECONDS", "MetadataCache"]

logger = logging.getLogger(__name__)

# How long facts about a written name stay uncached; also how long a reader
# would have to stall, between reading the storage and storing the answer, to
# store a stale one.
FENCE_SECONDS = 30

_FENCE = "storage_mixins:fence"
_MISSING = object()

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
}
# Facts a write changes: everything about the file itself…
_FACTS_OF_A_FILE = ("exists", "size", "get_accessed_time", "get_created_time",
                    "get_modified_time", "url", "contents")  # fmt: skip
# …and, for each directory above it, everything a new or removed entry can
# change: whether it exists (a save creates the directories of its name), what
# it lists, and its own size and times (FileSystemStorage answers them for a
# directory). Not its url, which names it whatever it holds.
_FACTS_OF_A_PARENT = ("exists", "listdir", "size", "get_accessed_time", "get_created_time",
                      "get_modified_time")  # fmt: skip


@functools.lru_cache(maxsize=8192)
def _key(namespace: str, fact: str, path: str) -> str:
    # The path is hashed: the key is then safe for memcached (no spaces or
    # control characters) and short (well under its 250-character limit)
    # whatever the file name. Pages ask about the same names over and over,
    # hence the memo.
    digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=10)
    return f"sm:{namespace}:{_CODES[fact]}{digest.hexdigest()}"


class _Default:
    """The type of DEFAULT: "use the cache's own timeout"."""


DEFAULT = _Default()


class MetadataCache:
    """Cached facts about the files of one storage.

    ``cache.connection()`` gives the Django cache to use; ``namespace``
    separates storages sharing one cache; ``timeout`` is the lifetime of a
    fact, in seconds (``None``: until a write fences it).
    """

    def __init__(self, cache: Any, namespace: str, timeout: float | None) -> None:
        self.cache = cache
        self.namespace = namespace
        self.timeout = timeout
        self._failing = False

    def get(self, fact: str, path: str) -> tuple[bool, Any]:
        """Return ``(True, value)`` for a cached fact, ``(False, None)`` otherwise."""
        # The hot path of every hit: kept to one call into the cache.
        try:
            entry = self.cache.connection().get(_key(self.namespace, fact, path), _MISSING)
        except Exception as exc:  # noqa: BLE001 - see _call
            self._failed(exc)
            return False, None
        if self._failing:
            self._recovered()
        if type(entry) is tuple and len(entry) == 1:
            return True, entry[0]
        return False, None  # missing, or fenced by a recent write

    def add(
        self, fact: str, path: str, value: Any, timeout: float | _Default | None = DEFAULT
    ) -> None:
        """Remember ``value`` unless the fact is cached or fenced already."""
        if isinstance(timeout, _Default):
            timeout = self.timeout
        if timeout is not None and timeout <= 0:
            return
        self._call("add", _key(self.namespace, fact, path), (value,), timeout)

    def invalidate(self, name: str) -> None:
        """Fence every fact about ``name``, and what a write to it changes about the
        directories above it (their existence, listing, size and times)."""
        fences = dict.fromkeys(self._keys_changed_by_writing(name), _FENCE)
        self._call("set_many", fences, FENCE_SECONDS)

    def _keys_changed_by_writing(self, name: str) -> Iterator[str]:
        path = name.strip("/")
        for fact in _FACTS_OF_A_FILE:
            yield _key(self.namespace, fact, path)
        while path:
            path = posixpath.dirname(path)
            for fact in _FACTS_OF_A_PARENT:
                yield _key(self.namespace, fact, path)

    def _call(self, operation: str, *args: Any) -> Any:
        try:
            result = getattr(self.cache.connection(), operation)(*args)
        # The cache only saves round-trips; whatever its backend raises
        # (redis, pymemcache, socket errors), storage calls go on without it.
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            return None
        if self._failing:
            self._recovered()
        return result

    def _failed(self, exc: Exception) -> None:
        if not self._failing:  # once per outage, not once per call
            self._failing = True
            logger.warning(
                "Cache %r failed (%s: %s); storage calls go on uncached until it recovers",
                self.cache,
                type(exc).__name__,
                exc,
            )

    def _recovered(self) -> None:
        self._failing = False
        logger.info("Cache %r works again", self.cache)
