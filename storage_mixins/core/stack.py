"""What a stack is, and how to walk it: the one place that knows.

A *stack* is a tree of storages. A wrapper has children (its ``wrapped_storages``: the
storage it wraps, or a router's layers); a backend has none. Wrappers say
what they are with class attributes, so no code below them tests for a
wrapper's class:

* ``routes_layers``: reads go to one of several layers (``Fallback``);
* ``passes_reads_through``: a read's answer is the wrapped storage's
  (``ReadOnly``, ``Caching``, ``Logging``), so a listing of the storage
  below can stand for it;
* ``opens_as_wrapped``: ``open(name, "rb")`` gives the wrapped storage's file,
  through :meth:`~storage_mixins.StorageWrapper.wrap_opened` (``ReadOnly``);
* ``refuses_writes``: every write is refused, without trying one (a property
  of a wrapper; a class attribute of a backend that is read-only by
  construction: ``HTTPStorage``, ``Placeholders``);
* ``invents_files``: a backend whose files exist nowhere, made up per name
  (``Placeholders``): reads may show them, but no naming, copy, listing or
  cache may take them for files.

``passes_reads_through`` and ``opens_as_wrapped`` are read from the class
itself, never a base: a subclass may change what a read means (override
``exists()`` or ``open()``), and no listing nor streamed open may stand for
it unless it says so again. ``type()`` is asked, never ``isinstance``: a
proxy passes ``isinstance`` for the class of what it wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.core.files.storage import Storage

from .wrapper import StorageWrapper, refuses_writes

__all__ = [
    "backend_of",
    "children",
    "contains",
    "find_router",
    "innermost",
    "invents_files",
    "is_read_only",
    "is_router",
    "is_wrapper",
    "leaves",
    "opened_backend",
    "reads_are_the_backends",
    "walk",
    "write_backend",
]


def is_wrapper(storage: object) -> bool:
    """Whether ``storage`` is a wrapper (a proxy of this library's)."""
    return issubclass(type(storage), StorageWrapper)


def is_router(storage: object) -> bool:
    """Whether ``storage`` routes reads to one of its layers (a ``Fallback``)."""
    return bool(getattr(type(storage), "routes_layers", False))


def is_read_only(storage: object) -> bool:
    """Whether ``storage`` is known to refuse every write, without trying one.

    True for :class:`~storage_mixins.ReadOnly`, for a backend that is read-only
    by construction (:class:`~storage_mixins.HTTPStorage`,
    :class:`~storage_mixins.Placeholders`: a ``refuses_writes = True`` class
    attribute), for any wrapper around either,
    and for a :class:`~storage_mixins.Fallback` without a writable layer.
    """
    return refuses_writes(storage)


def invents_files(storage: object) -> bool:
    """Whether ``storage`` makes up the files it answers for
    (:class:`~storage_mixins.Placeholders`), behind nothing but single-storage
    wrappers: a stack reads from it, but never names, copies, lists or caches
    what it answers as a file. A router, which reads real layers too, does not."""
    return getattr(type(backend_of(storage)), "invents_files", False) is True  # type: ignore[arg-type]  # any object


def children(storage: object) -> tuple[Storage, ...]:
    """What ``storage`` wraps, in order: a router's layers, a wrapper's storage;
    nothing for a backend."""
    if not is_wrapper(storage):
        return ()
    wrapped: tuple[Storage, ...] = storage.wrapped_storages  # type: ignore[attr-defined]  # a wrapper's
    return wrapped


def walk(
    storage: Storage, ancestors: tuple[Storage, ...] = ()
) -> Iterator[tuple[tuple[Storage, ...], Storage]]:
    """Yield ``(ancestors, storage)`` for ``storage`` and everything it wraps,
    depth first, in order (as :func:`~storage_mixins.describe` draws them)."""
    yield ancestors, storage
    for child in children(storage):
        yield from walk(child, (*ancestors, storage))


def leaves(storage: Storage) -> Iterator[Storage]:
    """The backends at the bottom of ``storage``: every layer's, in order."""
    for _ancestors, node in walk(storage):
        if not is_wrapper(node):
            yield node


def contains(storage: object, predicate: Callable[[object], bool]) -> bool:
    """Whether ``predicate`` holds for ``storage`` or anything it wraps."""
    return predicate(storage) or any(contains(child, predicate) for child in children(storage))


def find_router(storage: Storage) -> Any:
    """The outermost router (a ``Fallback``) in ``storage``, which may be wrapped
    in ``Caching``, ``Logging``…; ``None`` if there is none."""
    for _ancestors, node in walk(storage):
        if is_router(node):
            return node
    return None


def backend_of(storage: Storage) -> Storage:
    """The storage beneath ``storage``'s single-storage wrappers (``ReadOnly``,
    ``Caching``…): a backend, or a router, which reads its layers itself."""
    while is_wrapper(storage) and not is_router(storage):
        storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    return storage


def innermost(storage: Storage) -> Storage:
    """What ``storage`` proxies at the bottom, through every wrapper (a router
    proxies its write layer): the backend whose class a call reaches."""
    while is_wrapper(storage):
        storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    return storage


def write_backend(storage: Storage) -> Storage | None:
    """The backend that a write to ``storage`` reaches, through the write layers
    of nested routers; ``None`` where a router has no write layer."""
    while is_wrapper(storage):
        if is_router(storage):
            write_layer = storage.write_layer  # type: ignore[attr-defined]  # a router's
            if write_layer is None:
                return None
            storage = write_layer
        else:
            storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    return storage


def reads_are_the_backends(storage: Storage) -> bool:
    """Whether what ``storage`` answers about a file is what the backend (or
    router) beneath it answers: only wrappers that pass reads through stand
    between them. Another wrapper may change what ``exists()`` means."""
    while is_wrapper(storage) and not is_router(storage):
        if not _declares(storage, "passes_reads_through"):
            return False
        storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    return True


def opened_backend(storage: Storage) -> tuple[Storage, tuple[Storage, ...]]:
    """The backend whose ``open()`` a read-mode ``storage.open()`` gives the file
    of, and the wrappers on the way, outermost first, each of which wraps that
    file with its ``wrap_opened()``: only wrappers that open as the wrapped
    storage opens are looked through."""
    on_the_way: list[Storage] = []
    while is_wrapper(storage) and _declares(storage, "opens_as_wrapped"):
        on_the_way.append(storage)
        storage = storage.__wrapped__  # type: ignore[attr-defined]  # a wrapper's
    return storage, tuple(on_the_way)


def _declares(storage: Storage, attribute: str) -> bool:
    """Whether the class of ``storage`` itself (not a base) sets ``attribute``."""
    return bool(vars(type(storage)).get(attribute, False))
