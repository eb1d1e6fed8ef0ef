"""Which ``STORAGES`` aliases can write to a storage that a stack guards.

A storage under a ``ReadOnly`` (production, in a ``FallbackStorage``) is only
safe if every alias that reaches it reaches it through a ``ReadOnly`` too: an
alias of its own, or one that wraps it in ``Caching`` or ``Logging`` only,
writes to it (``storages["production-s3"].delete(name)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.core.files.storage import Storage, storages

from storage_mixins.core.labels import storage_label
from storage_mixins.core.stack import children, is_read_only, leaves, walk


def writable_aliases(aliases: Iterable[str]) -> list[str]:
    """``"alias -> storage"`` for each alias that can write to a backend that
    some alias's stack reads as read-only; every alias is built."""
    built = {alias: storages[alias] for alias in aliases}
    guarded = {
        id(backend)
        for storage in built.values()
        for _ancestors, node in walk(storage)
        if is_read_only(node)
        for backend in leaves(node)
    }
    return [
        f"{alias} -> {storage_label(backend)}"
        for alias, storage in built.items()
        for backend in _writable_backends(storage)
        if id(backend) in guarded
    ]


def _writable_backends(storage: Storage) -> Iterator[Storage]:
    """The backends under ``storage`` that no ``ReadOnly`` stands before."""
    if is_read_only(storage):
        return
    below = children(storage)
    if not below:
        yield storage
    for child in below:
        yield from _writable_backends(child)
