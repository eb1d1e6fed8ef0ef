"""Looking into a stack: ``describe()`` draws it, ``walk()`` visits it."""

from __future__ import annotations

from collections.abc import Iterator

from django.core.files.storage import Storage

from .base import StorageWrapper
from .fallback import Fallback
from .labels import storage_label

__all__ = ["describe", "find_fallback", "walk"]


def describe(storage: Storage) -> str:
    """Draw ``storage`` as a tree: wrappers and their options, layers in order,
    which layer takes writes and which refuse them. For example::

        FallbackStorage  (writes go to [0])
        ├── [0] FileSystemStorage('/srv/media')  ← writes
        └── [1] ReadOnly  (refuses writes)
            └── S3Storage('production-media')
    """
    lines: list[str] = []
    _draw(storage, "", "", "", "", lines)
    return "\n".join(lines)


def _draw(
    storage: Storage, prefix: str, suffix: str, indent: str, child_indent: str, lines: list[str]
) -> None:
    if isinstance(storage, StorageWrapper):
        title, children = storage._describe_node()
    else:
        title, children = storage_label(storage), []
    lines.append(f"{indent}{prefix}{title}{suffix}")
    for index, (child_prefix, child, child_suffix) in enumerate(children):
        last = index == len(children) - 1
        _draw(
            child,
            child_prefix,
            child_suffix,
            child_indent + ("└── " if last else "├── "),
            child_indent + ("    " if last else "│   "),
            lines,
        )


def walk(
    storage: Storage, path: tuple[StorageWrapper, ...] = ()
) -> Iterator[tuple[tuple[StorageWrapper, ...], Storage]]:
    """Yield ``(ancestors, storage)`` for ``storage`` and everything it wraps, in
    the order :func:`describe` draws them."""
    yield path, storage
    if isinstance(storage, StorageWrapper):
        for _prefix, child, _suffix in storage._describe_node()[1]:
            yield from walk(child, (*path, storage))


def find_fallback(storage: Storage) -> Fallback | None:
    """The outermost :class:`~storage_mixins.Fallback` in ``storage`` (which may be
    wrapped in ``Caching``, ``Logging``…), or ``None``."""
    for _ancestors, node in walk(storage):
        if isinstance(node, Fallback):
            return node
    return None
