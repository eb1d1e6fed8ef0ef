"""Django cache backends for tests: one that records the keys written to it, and
one that fails on the calls a schedule says (a cache that fails mid-write)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from django.core.cache.backends.locmem import LocMemCache

_written: list[list[str]] = []  # the keys written, by each recording under way


@contextlib.contextmanager
def recording_writes() -> Iterator[list[str]]:
    """The keys written to every ``CountingCache`` inside the block, in order
    (a key written twice counts twice); ``set_many`` counts each of its keys."""
    keys: list[str] = []
    _written.append(keys)
    try:
        yield keys
    finally:
        _written.remove(keys)


class CountingCache(LocMemCache):
    """A ``LocMemCache`` that reports the keys written to it (see :func:`recording_writes`)."""

    def _wrote(self, key: str) -> None:
        for keys in _written:
            keys.append(key)

    def add(self, key: str, *args: Any, **kwargs: Any) -> bool:
        self._wrote(key)
        return super().add(key, *args, **kwargs)

    def set(self, key: str, *args: Any, **kwargs: Any) -> None:  # set_many comes here
        self._wrote(key)
        super().set(key, *args, **kwargs)

    def touch(self, key: str, *args: Any, **kwargs: Any) -> bool:
        self._wrote(key)
        return super().touch(key, *args, **kwargs)

    def delete(self, key: str, *args: Any, **kwargs: Any) -> bool:
        self._wrote(key)
        return super().delete(key, *args, **kwargs)


#: Called before each call to a ``FlakyCache``; raises to make it fail.
fault: Callable[[str], None] = lambda operation: None  # noqa: E731


class FlakyCache(LocMemCache):
    """A ``LocMemCache`` whose calls fail when :data:`fault` raises. Its
    ``set_many`` and ``get_many`` are loops of ``set`` and ``get`` (as
    ``BaseCache`` makes them), so a failure may leave one applied in part,
    as a memcached that goes away mid-call does."""

    def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        fault("get")
        return super().get(key, *args, **kwargs)

    def add(self, key: str, *args: Any, **kwargs: Any) -> bool:
        fault("add")
        return super().add(key, *args, **kwargs)

    def set(self, key: str, *args: Any, **kwargs: Any) -> None:
        fault("set")
        super().set(key, *args, **kwargs)

    def touch(self, key: str, *args: Any, **kwargs: Any) -> bool:
        fault("touch")
        return super().touch(key, *args, **kwargs)

    def delete(self, key: str, *args: Any, **kwargs: Any) -> bool:
        fault("delete")
        return super().delete(key, *args, **kwargs)
