"""Facts about files, kept in a Django cache and invalidated by generation.

Every cached fact about a path (``exists``, ``size``, ``url``, ``listdir``…) is
stored with the *generation* of that path: a random token kept under a key of
its own. A write replaces the generations of the written name and of every
directory above it, in one ``set_many``. A fact is used only if its token
matches the current generation, so:

* invalidation reaches every process that shares the cache;
* a reader that computed a value before a write and stores it after the write
  stores it under the old generation, where nobody will read it;
* a read costs one ``get_many`` (the generation and the fact together).

A failing cache (Redis down) never fails a storage call: reads become misses,
writes are skipped, and one warning is logged per outage.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import secrets
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["MetadataCache"]

logger = logging.getLogger(__name__)

# The generation of a path nobody has written through this cache yet.
_INITIAL_GENERATION = "0"


class _Default:
    """The type of DEFAULT: "use the cache's own timeout"."""


DEFAULT = _Default()


class MetadataCache:
    """Cached facts about the files of one storage, in the Django cache ``cache``.

    ``namespace`` separates storages sharing one cache; ``timeout`` is the
    lifetime of a fact, in seconds (``None``: until invalidated).
    """

    def __init__(self, cache: Any, namespace: str, timeout: float | None) -> None:
        self.cache = cache
        self.namespace = namespace
        self.timeout = timeout
        self._failing = False

    def get(self, fact: str, path: str) -> tuple[bool, Any, str]:
        """Return ``(hit, value, generation)``; pass the generation to :meth:`set`."""
        generation_key, fact_key = self._key("gen", path), self._key(fact, path)
        found = self._call("get_many", [generation_key, fact_key], default={})
        generation = found.get(generation_key, _INITIAL_GENERATION)
        entry = found.get(fact_key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
            return True, entry[1], generation
        return False, None, generation

    def set(
        self,
        fact: str,
        path: str,
        value: Any,
        generation: str,
        timeout: float | _Default | None = DEFAULT,
    ) -> None:
        """Remember ``value`` for the ``generation`` :meth:`get` returned."""
        if isinstance(timeout, _Default):
            timeout = self.timeout
        if timeout is not None and timeout <= 0:
            return
        self._call("set", self._key(fact, path), (generation, value), timeout)

    def invalidate(self, name: str) -> None:
        """Forget every fact about ``name`` and the listings of the directories above it."""
        generation = secrets.token_hex(8)
        # Generations outlive the facts they guard, so an expired generation
        # can never make an old fact current again.
        lifetime = None if self.timeout is None else self.timeout * 2 + 60
        keys = {self._key("gen", path): generation for path in _self_and_parents(name)}
        self._call("set_many", keys, lifetime)

    def _key(self, fact: str, path: str) -> str:
        # Hashed: safe for memcached (no spaces or control characters) and
        # short (under its 250-character limit) whatever the file name.
        digest = hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=20)
        return f"storage_mixins:{self.namespace}:{fact}:{digest.hexdigest()}"

    def _call(self, operation: str, *args: Any, default: Any = None) -> Any:
        method: Callable[..., Any] = getattr(self.cache, operation)
        try:
            result = method(*args)
        # The cache only saves round-trips; whatever its backend raises
        # (redis, pymemcache, socket errors), storage calls go on without it.
        except Exception as exc:  # noqa: BLE001
            if not self._failing:
                self._failing = True
                logger.warning(
                    "Cache %r failed (%s: %s); storage calls go on uncached until it recovers",
                    self.cache,
                    type(exc).__name__,
                    exc,
                )
            return default
        if self._failing:
            self._failing = False
            logger.info("Cache %r works again", self.cache)
        return result


def _self_and_parents(name: str) -> Iterable[str]:
    path = name.strip("/")
    yield path
    while path:
        path = posixpath.dirname(path)
        yield path
